"""Preemption: SIGTERM (a scheduler stopping or requeueing the job), SIGINT (Ctrl-C) and SIGUSR1
(SLURM's warning before the time limit) end a run with exit status 128 + signal, its checkpoints
whole, its W&B run marked preempted, and one line saying the command that continues it. A signal
that arrives once the run's metrics.json is written changes nothing: the run ends as it would
have, with exit status 0.

During a Trainer stage, Lightning's own SIGTERM handler stops the loop at its next safe point
(SIGTERMException); the handlers here only record the signal there, turn SIGINT and SIGUSR1 into
the same stop (Lightning meets Ctrl-C's KeyboardInterrupt with a shutdown of its own, exit
status 1 and no checkpoint of the epoch), and stop the run at once outside Trainer stages (data
set-up). Under DDP the ranks agree on the step to stop at (callbacks/preemption.py).

Under SLURM, SIGUSR1 (`sbatch --signal=USR1@<seconds>`) is seqlab's too, not Lightning's
auto-requeue, whose checkpoint is taken mid-epoch: the run stops as above, and the first process
then requeues the job (`scontrol requeue`), whose command, with `resume=auto` and the same run
dir, continues the run.

The stop keeps last.ckpt of the last finished epoch rather than writing one mid-epoch: Lightning
does not replay a half-finished epoch's batches in the same order, and the module's metric state
of the epoch is not in the checkpoint, so only an epoch boundary resumes to the numbers an
uninterrupted run gets. The interrupted epoch is redone.
"""

import os
import shlex
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import ClassVar

from lightning.fabric.plugins.environments import SLURMEnvironment

from seqlab.layout import CHECKPOINT_DIR


class Preempted(BaseException):
    """A stop signal arrived outside a Trainer stage. A BaseException, like SystemExit, so that
    no `except Exception` on the way swallows it."""

    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = signum


class PreemptionSignals:
    # The handlers installed now, if any: the callback that makes DDP ranks stop together
    # reads the signal they noted.
    active: ClassVar["PreemptionSignals | None"] = None

    def __init__(self, result: Path | None = None) -> None:
        """`result`: the run's metrics.json; once written (after these handlers were
        installed), a stop signal is only noted."""
        self.signum: int | None = None  # the first stop signal received
        self.result = result
        self.since = time.time()
        self.noting_only = False  # under DDP in a Trainer stage: the ranks decide together
        self.handled: list[signal.Signals] = []

    @contextmanager
    def installed(self) -> Iterator[None]:
        """The handlers for the block, the previous ones restored after; none outside the main
        thread, where Python allows no handler (training called from a thread)."""
        handled = [signal.SIGTERM, signal.SIGUSR1]
        if signal.getsignal(signal.SIGINT) is not signal.SIG_IGN:
            handled.append(signal.SIGINT)  # ignored: a background job that Ctrl-C must not stop
        if threading.current_thread() is not threading.main_thread():
            handled = []
        self.handled = handled
        previous = {signum: signal.getsignal(signum) for signum in handled}
        for signum in handled:
            signal.signal(signum, self.handle)
        PreemptionSignals.active = self
        try:
            yield
        finally:
            PreemptionSignals.active = None
            self.noting_only = False
            for signum, handler in previous.items():
                signal.signal(signum, handler)

    def take_over(self) -> None:
        """For the rest of this Trainer stage, only note a stop signal, in place of Lightning's
        handlers (Lightning puts back the ones it found, these, when the stage ends)."""
        self.noting_only = True
        for signum in self.handled:
            signal.signal(signum, self.handle)

    def handle(self, signum: int, frame: FrameType | None) -> None:
        if self.result_written():
            name = signal.Signals(signum).name
            print(f"seqlab: {name} after {self.result} was written; finishing", file=sys.stderr)
            return
        if self.signum is None:
            self.signum = signum
        lightning_handler = signal.getsignal(signal.SIGTERM)
        if lightning_handler == self.handle:
            if self.noting_only:
                return  # callbacks/preemption.py stops every rank at the same step
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


def requeue_slurm_job(signum: int) -> str | None:
    """Under SLURM, after SIGUSR1 stopped the run: requeue this job (`scontrol requeue`, what
    Lightning's auto-requeue runs) and say so in one line; None elsewhere."""
    if signum != signal.SIGUSR1 or not SLURMEnvironment.detect():
        return None
    array_job = os.environ.get("SLURM_ARRAY_JOB_ID")
    job = (
        f"{array_job}_{os.environ['SLURM_ARRAY_TASK_ID']}"
        if array_job
        else os.environ["SLURM_JOB_ID"]
    )
    try:
        done = subprocess.run(["scontrol", "requeue", job], capture_output=True, text=True)
    except FileNotFoundError:
        return f"could not requeue SLURM job {job}: scontrol is not on PATH; resubmit the job"
    if done.returncode != 0:
        why = (done.stderr.strip().splitlines() or [f"exit status {done.returncode}"])[-1]
        return f"could not requeue SLURM job {job} (scontrol: {why}); resubmit the job"
    return f"requeued SLURM job {job}: its command, with resume=auto, continues this run"
