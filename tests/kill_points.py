"""A callback that kills its own run at a chosen moment, for tests that resume it: given to
seqlab-train as `+callbacks.extra.kill._target_=kill_points.KillWhileBestUnwritten` with this
folder on PYTHONPATH."""

import json
import os
import signal
from pathlib import Path

from lightning.pytorch.callbacks import Callback

KILL_RECORD = "killed_at.json"  # in the run dir: the epoch and the unwritten best file's path


class KillWhileBestUnwritten(Callback):
    """SIGKILL to the run's whole process group (its W&B service too, as a crashed machine) at
    the first epoch start where a new best is held in memory only, while last.ckpt of an
    earlier epoch is on disk. The checkpoint callback's clock is replaced by one that moves
    `seconds_per_epoch` at every epoch start, so that the cadence writes at known epochs."""

    def __init__(self, seconds_per_epoch: float = 4.0) -> None:
        self.seconds_per_epoch = seconds_per_epoch
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def setup(self, trainer, pl_module, stage: str) -> None:
        trainer.checkpoint_callback.clock = self

    def on_train_epoch_start(self, trainer, pl_module) -> None:
        self.now += self.seconds_per_epoch
        checkpoint = trainer.checkpoint_callback
        unwritten = checkpoint._unwritten_best
        folder = Path(checkpoint.dirpath)
        if unwritten is None or not (folder / "last.ckpt").exists():
            return
        record = {"epoch": trainer.current_epoch, "unwritten": unwritten[0]}
        (folder.parent / KILL_RECORD).write_text(json.dumps(record))
        os.killpg(os.getpgid(0), signal.SIGKILL)
