"""The stop-signal handlers on their own: outside a Trainer stage a signal stops at once; inside
one, SIGINT and SIGUSR1 are handed to Lightning's SIGTERM handler as the same stop; after the
run's result is written, a signal is only noted."""

import os
import signal

import pytest

from seqlab.training.signals import Preempted, PreemptionSignals, stop_line


def test_a_signal_outside_a_trainer_stage_stops_at_once():
    received = PreemptionSignals()
    with pytest.raises(Preempted), received.installed():
        os.kill(os.getpid(), signal.SIGUSR1)
    assert received.signum == signal.SIGUSR1
    assert signal.getsignal(signal.SIGUSR1) == signal.SIG_DFL  # restored


def test_inside_a_trainer_stage_sigusr1_reaches_lightnings_handler_as_sigterm():
    received = PreemptionSignals()
    seen = []
    with received.installed():
        ours = signal.getsignal(signal.SIGTERM)

        def lightning(signum, frame):  # what Lightning installs: its own, then the one before
            seen.append(signum)
            ours(signum, frame)

        signal.signal(signal.SIGTERM, lightning)
        os.kill(os.getpid(), signal.SIGUSR1)
    assert seen == [signal.SIGTERM] and received.signum == signal.SIGUSR1


def test_the_stop_line_says_how_to_go_on(tmp_path):
    assert "before the first checkpoint; run again: seqlab-train" in stop_line(15, tmp_path)
    (tmp_path / "checkpoints").mkdir()
    (tmp_path / "checkpoints" / "last.ckpt").write_bytes(b"")
    line = stop_line(15, tmp_path)
    assert line.startswith("stopped by SIGTERM; checkpoints kept in ")
    # the run dir named too, so that the resumed run makes no new folder beside it
    assert line.endswith(f"resume with: seqlab-train hydra.run.dir={tmp_path} resume={tmp_path}")


def test_a_stop_signal_after_the_result_is_only_noted(tmp_path, capsys):
    result = tmp_path / "metrics.json"
    received = PreemptionSignals(result)
    with received.installed():
        result.write_text("{}")  # this run's result, written after the handlers went in
        os.kill(os.getpid(), signal.SIGINT)  # no Preempted, no KeyboardInterrupt
    assert received.signum is None
    assert f"SIGINT after {result} was written; finishing" in capsys.readouterr().err


def test_an_earlier_runs_result_does_not_mute_the_signals(tmp_path):
    result = tmp_path / "metrics.json"
    result.write_text("{}")  # a finished run continued with resume=<dir>
    os.utime(result, (0, 0))
    received = PreemptionSignals(result)
    with pytest.raises(Preempted), received.installed():
        os.kill(os.getpid(), signal.SIGINT)
    assert received.signum == signal.SIGINT


def test_an_ignored_sigint_stays_ignored():
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        with PreemptionSignals().installed():
            assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
    finally:
        signal.signal(signal.SIGINT, previous)
