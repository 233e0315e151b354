"""Checkpointing: the best epoch with ties broken, written with last.ckpt on a time cadence.

last.ckpt is written at the first epoch end at least `last_every_s` seconds after the previous
one (or after the start of fit), and always when fit ends, so a crash loses at most that much
training while short epochs do not pay for a checkpoint each. `last_every_s=0` writes it after
every epoch. Lightning's ModelCheckpoint would rewrite last.ckpt only when it saves a new best
checkpoint (an extra serialisation in every improving epoch, and nothing after the best epoch);
here `save_last_now` is the one place last.ckpt is written, except that a stop signal writes the
newest epoch end the cadence skipped (kept in memory), so a preempted run loses only the epoch
in progress.

The best checkpoint holds what testing, evaluation, prediction and export read (weights,
hyperparameters with the data's meta and fitted state), not the optimizer, loop or callback
state: resuming is last.ckpt's job. When the monitor improves, a CPU copy of it is kept in
memory and written with last.ckpt: on the cadence, when fit ends and when a stop signal ends
the run. The best file goes first, so a last.ckpt on disk never names a best file that is not
there yet; a superseded best file is removed only after both are written. last.ckpt carries
the best score and the best file's path (ModelCheckpoint's state), so a resumed run keeps and
replaces the best exactly as the uninterrupted one.

Every rank takes part in a write (Lightning's save ends in a barrier), so whether the cadence
is due is rank 0's decision, broadcast: each rank reading its own clock could disagree, leaving
one rank in the barrier and the other in the next epoch's collectives.

Small validation sets (GunPoint keeps 10 series) make F1 or accuracy saturate: many epochs reach
val/f1 = 1.0, and Lightning's ModelCheckpoint keeps the first of them, often an undertrained
early epoch. Among epochs that tie on the monitored metric, this one keeps the one with the best
tie-breaker (by default the lowest val/loss).
"""

import time
from collections.abc import Callable
from functools import cached_property
from pathlib import Path
from typing import Any
from weakref import proxy

import torch
from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.utilities.exceptions import SIGTERMException

from seqlab.training.lightning_private import (
    save_last,
    saves_on_train_epoch_end,
    snapshot_best,
    snapshot_checkpoint,
)


class BestAndLastCheckpoint(ModelCheckpoint):
    def __init__(
        self,
        *args: Any,
        tie_breaker: str | None = None,
        last_every_s: float = 0.0,
        clock: Callable[[], float] = time.monotonic,
        **kwargs: Any,
    ):
        """`tie_breaker`: a metric where lower is better (such as val/loss). `last_every_s`:
        the least time between two writes of last.ckpt at epoch ends (0: every epoch);
        `clock` tells that time (seconds; a test passes its own)."""
        super().__init__(*args, **kwargs)
        if self.save_top_k != 1 and tie_breaker is not None:
            raise ValueError("a tie-breaker is defined for save_top_k=1 only")
        self.tie_breaker = tie_breaker
        self.best_tie_value: float | None = None
        self.last_every_s, self.clock = last_every_s, clock
        self._last_written_at: float | None = None
        self._last_written_step: int | None = None
        self._unwritten_last: dict[str, Any] | None = None
        self._unwritten_best: tuple[str, dict[str, Any]] | None = None  # (path, checkpoint)
        self._superseded: list[str] = []  # best files to remove once their successor is written

    @cached_property
    def state_key(self) -> str:
        # Lightning formats every callback's key on every hook call (a profiler label); this
        # one is built from settings that never change after __init__.
        return super().state_key

    def check_monitor_top_k(self, trainer: Any, current: torch.Tensor | None = None) -> bool:
        better = self._better(trainer, current)
        if better and self.tie_breaker is not None and current is not None:
            # Set before Lightning saves the new best (and last.ckpt with it), so a run resumed
            # from either file breaks the next tie as the uninterrupted run does.
            self.best_tie_value = float(trainer.callback_metrics[self.tie_breaker])
        return better

    def _better(self, trainer: Any, current: torch.Tensor | None) -> bool:
        if (
            self.tie_breaker is None
            or current is None
            or not self.best_k_models
            or self.best_tie_value is None
            or float(current) != float(self.best_k_models[self.kth_best_model_path])
        ):
            return super().check_monitor_top_k(trainer, current)
        candidate = float(trainer.callback_metrics[self.tie_breaker])
        return trainer.strategy.reduce_boolean_decision(candidate < self.best_tie_value)

    def on_train_start(self, trainer: Any, pl_module: Any) -> None:
        super().on_train_start(trainer, pl_module)
        # The cadence counts from the start of this fit (a resumed one too).
        self._last_written_at = self.clock()

    # Lightning saves either at validation end or at train-epoch end; follow the same choice.
    def on_validation_end(self, trainer: Any, pl_module: Any) -> None:
        best_before = self.best_model_path
        super().on_validation_end(trainer, pl_module)
        if not saves_on_train_epoch_end(self, trainer):
            self._after_save(trainer, best_before)

    def on_train_epoch_end(self, trainer: Any, pl_module: Any) -> None:
        best_before = self.best_model_path
        super().on_train_epoch_end(trainer, pl_module)
        if saves_on_train_epoch_end(self, trainer):
            self._after_save(trainer, best_before)

    def on_train_end(self, trainer: Any, pl_module: Any) -> None:
        # Always at the end of fit (early stopping included): a run killed while testing
        # resumes from its last epoch, whatever the cadence.
        self.save_last_now(trainer)

    def _after_save(self, trainer: Any, best_before: str) -> None:
        if trainer.sanity_checking:
            return
        if self.tie_breaker is not None and self.best_model_path != best_before:
            # a new best checkpoint (each epoch's file has its own name): remember its tie value
            self.best_tie_value = float(trainer.callback_metrics[self.tie_breaker])
        if self._cadence_due(trainer):
            self.save_last_now(trainer)
        elif self.save_last:
            # Kept in memory so that a stop signal can still write this epoch's end: resuming
            # from an epoch boundary gives the numbers of an uninterrupted run.
            self._unwritten_last = snapshot_checkpoint(trainer)

    def _cadence_due(self, trainer: Any) -> bool:
        started = self._last_written_at
        if self.last_every_s == 0 or started is None:
            return True
        return bool(trainer.strategy.broadcast(self.clock() - started >= self.last_every_s, src=0))

    def on_exception(self, trainer: Any, pl_module: Any, exception: BaseException) -> None:
        """A stop signal (SIGTERM, SIGUSR1 or Ctrl-C) ends fit: write the best checkpoint and the
        newest epoch end that the cadence left unwritten, in that order, before the process
        exits."""
        stopped = isinstance(exception, SIGTERMException | KeyboardInterrupt)
        unwritten, self._unwritten_last = self._unwritten_last, None
        if not stopped or not trainer.is_global_zero:
            return
        self._write_best(trainer)
        if unwritten is not None:
            path = Path(self.dirpath or ".") / f"{self.CHECKPOINT_NAME_LAST}{self.FILE_EXTENSION}"
            trainer.strategy.checkpoint_io.save_checkpoint(unwritten, path)
            self.last_model_path = str(path)
        self._remove_superseded(trainer)

    def save_last_now(self, trainer: Any) -> None:
        """Write the best checkpoint kept in memory, then last.ckpt (when `save_last` is on and
        it does not hold this step already), then remove the best files they replace; nothing
        when the trainer is not fitting."""
        if trainer.fast_dev_run or trainer.sanity_checking or trainer.state.fn != "fit":
            return
        self._write_best(trainer)
        if self.save_last and self._last_written_step != trainer.global_step:
            save_last(self, trainer)
            self._last_written_step = trainer.global_step
        self._unwritten_last = None
        self._last_written_at = self.clock()
        self._remove_superseded(trainer)

    def _save_checkpoint(self, trainer: Any, filepath: str) -> None:
        """Lightning's one write of every file: last.ckpt is written now, a new best is kept in
        memory until `save_last_now` or a stop writes it."""
        if filepath == self.last_model_path:  # set by _save_last_checkpoint just before
            super()._save_checkpoint(trainer, filepath)
            return
        self._unwritten_best = (filepath, snapshot_best(trainer))
        # what ModelCheckpoint's own save records (no second save of this step)
        self._last_global_step_saved = trainer.global_step
        self._last_checkpoint_saved = filepath

    def _remove_checkpoint(self, trainer: Any, filepath: str) -> None:
        """Lightning removes the best file a new best replaces at once; here only after the new
        one and last.ckpt naming it are written (`_remove_superseded`)."""
        self._superseded.append(filepath)

    def _write_best(self, trainer: Any) -> None:
        if self._unwritten_best is None:
            return
        (path, checkpoint), self._unwritten_best = self._unwritten_best, None
        trainer.strategy.save_checkpoint(checkpoint, path)  # on rank 0 only
        if trainer.is_global_zero:
            for logger in trainer.loggers:
                logger.after_save_checkpoint(proxy(self))

    def _remove_superseded(self, trainer: Any) -> None:
        if self._unwritten_best is not None:
            return  # still in memory: the files it replaces stay until it is written
        kept = {self.best_model_path, *self.best_k_models}
        for path in self._superseded:
            if path not in kept:
                trainer.strategy.remove_checkpoint(path)  # on rank 0 only
        self._superseded = []

    def _save_last_checkpoint(self, trainer: Any, monitor_candidates: dict[str, Any]) -> None:
        """Lightning calls this whenever it saves a best checkpoint (and in a few other places);
        here last.ckpt follows the cadence instead, written by `save_last_now` only."""

    def state_dict(self) -> dict[str, Any]:
        return {**super().state_dict(), "best_tie_value": self.best_tie_value}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        super().load_state_dict(state_dict)
        self.best_tie_value = state_dict.get("best_tie_value")
