"""The stop-signal handlers on their own: outside a Trainer stage a signal stops at once; inside
one, SIGUSR1 is handed to Lightning's SIGTERM handler as the same stop."""

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
    assert line.endswith(f"resume with: seqlab-train resume={tmp_path}")
