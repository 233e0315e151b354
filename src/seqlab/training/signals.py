"""Preemption: SIGTERM (a scheduler stopping or requeueing the job), SIGINT (Ctrl-C) and SIGUSR1
(SLURM's warning before the time limit) end a run with exit status 128 + signal, its checkpoints
whole, its W&B run marked preempted, and one line saying the command that continues it. A signal
that arrives once the run's metrics.json is written changes nothing: the run ends as it would
have, with exit status 0.

During a Trainer stage, Lightning's own SIGTERM handler stops the loop at its next safe point
(SIGTERMException); the handlers here only record the signal there, turn SIGINT and SIGUSR1 into
the same stop (Lightning meets Ctrl-C's KeyboardInterrupt with a shutdown of its own, exit
status 1 and no checkpoint of the epoch), and stop the run at once outside Trainer stages (data
set-up). Under
SLURM, SIGUSR1 is left to Lightning's auto-requeue (an hpc checkpoint and `scontrol requeue`,
then SLURM's SIGTERM ends the job here).

The stop keeps last.ckpt of the last finished epoch rather than writing one mid-epoch: Lightning
does not replay a half-finished epoch's batches in the same order, and the module's metric state
of the epoch is not in the checkpoint, so only an epoch boundary resumes to the numbers an
uninterrupted run gets. The interrupted epoch is redone.
"""

import shlex
import signal
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType

from lightning.fabric.plugins.environments import SLURMEnvironment

from seqlab.layout import CHECKPOINT_DIR


class Preempted(BaseException):
    """A stop signal arrived outside a Trainer stage. A BaseException, like SystemExit, so that
    no `except Exception` on the way swallows it."""

    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = signum


class PreemptionSignals:
    def __init__(self, result: Path | None = None) -> None:
        """`result`: the run's metrics.json; once written (after these handlers were
        installed), a stop signal is only noted."""
        self.signum: int | None = None  # the first stop signal received
        self.result = result
        self.since = time.time()

    @contextmanager
    def installed(self) -> Iterator[None]:
        """The handlers for the block, the previous ones restored after; none outside the main
        thread, where Python allows no handler (training called from a thread)."""
        handled = [signal.SIGTERM]
        if signal.getsignal(signal.SIGINT) is not signal.SIG_IGN:
            handled.append(signal.SIGINT)  # ignored: a background job that Ctrl-C must not stop
        if not SLURMEnvironment.detect():
            handled.append(signal.SIGUSR1)
        if threading.current_thread() is not threading.main_thread():
            handled = []
        previous = {signum: signal.getsignal(signum) for signum in handled}
        for signum in handled:
            signal.signal(signum, self.handle)
        try:
            yield
        finally:
            for signum, handler in previous.items():
                signal.signal(signum, handler)

    def handle(self, signum: int, frame: FrameType | None) -> None:
        if self.result_written():
            name = signal.Signals(signum).name
            print(f"seqlab: {name} after {self.result} was written; finishing", file=sys.stderr)
            return
        if self.signum is None:
            self.signum = signum
        lightning_handler = signal.getsignal(signal.SIGTERM)
        if lightning_handler == self.handle:
            raise Preempted(signum)  # no Trainer stage is running: stop here
        if signum != signal.SIGTERM and callable(lightning_handler):
            # Lightning listens to SIGTERM only: pass SIGUSR1 on as the same stop.
            lightning_handler(signal.SIGTERM, frame)

    def result_written(self) -> bool:
        try:
            return self.result is not None and self.result.stat().st_mtime >= self.since
        except FileNotFoundError:
            return False


def stop_signal(received: PreemptionSignals) -> int:
    """The signal that stopped the run (Lightning's SIGTERMException says SIGTERM)."""
    return received.signum or signal.SIGTERM


def stop_line(signum: int, run_dir: Path) -> str:
    """The line printed when a signal stopped the run: what was kept, and how to go on."""
    name = signal.Signals(signum).name
    sweep = _multirun_command()
    if sweep is not None:
        return (
            f"stopped by {name} in {run_dir}; the same command continues the multirun "
            f"(finished jobs are skipped, this one resumes, the rest run): {sweep}"
        )
    if not any((run_dir / CHECKPOINT_DIR).glob("*.ckpt")):
        return f"stopped by {name} before the first checkpoint; run again: {_command(None)}"
    return (
        f"stopped by {name}; checkpoints kept in {run_dir / CHECKPOINT_DIR}; resume with: "
        f"{_command(run_dir)}"
    )


def _command(run_dir: Path | None) -> str:
    """This run's own command line (Hydra's overrides), continuing `run_dir` if given."""
    overrides: list[str] = []
    try:
        from hydra.core.hydra_config import HydraConfig

        hydra = HydraConfig.get()
        overrides = [o for o in hydra.overrides.hydra if o.startswith("hydra.run.dir=")]
        overrides += list(hydra.overrides.task)
    except ValueError:  # not started by Hydra (train() called directly)
        pass
    dropped = ("resume", "ckpt_path", "hydra.run.dir")
    kept = [o for o in overrides if o.split("=", 1)[0].lstrip("+~") not in dropped]
    if run_dir is not None:  # the same dir, so that nothing is made beside it
        kept += [f"hydra.run.dir={run_dir}", f"resume={run_dir}"]
    return shlex.join(["seqlab-train", *kept])


def _multirun_command() -> str | None:
    """The command of the multirun this job belongs to, with its sweep dir (None: no multirun)."""
    try:
        from hydra.core.hydra_config import HydraConfig
        from hydra.types import RunMode

        hydra = HydraConfig.get()
    except (ValueError, ImportError):
        return None
    if hydra.mode != RunMode.MULTIRUN:
        return None
    given = [
        a
        for a in sys.argv[1:]
        if a not in ("-m", "--multirun") and not a.startswith("hydra.sweep.dir=")
    ]
    return shlex.join(["seqlab-train", "-m", *given, f"hydra.sweep.dir={hydra.sweep.dir}"])
