"""Checkpointing: the best epoch with ties broken, and last.ckpt on a time cadence.

last.ckpt is written at the first epoch end at least `last_every_s` seconds after the previous
one (or after the start of fit), and always when fit ends, so a crash loses at most that much
training while short epochs do not pay for a checkpoint each. `last_every_s=0` writes it after
every epoch. Lightning's ModelCheckpoint would rewrite last.ckpt only when it saves a new best
checkpoint (an extra serialisation in every improving epoch, and nothing after the best epoch);
here `save_last_now` is the one place last.ckpt is written, except that a stop signal writes the
newest epoch end the cadence skipped (kept in memory), so a preempted run loses only the epoch
in progress.

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

import torch
from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.utilities.exceptions import SIGTERMException

from seqlab.training.lightning_private import (
    save_last,
    saves_on_train_epoch_end,
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
        started = self._last_written_at
        if started is None or self.clock() - started >= self.last_every_s:
            self.save_last_now(trainer)
        elif self.save_last:
            # Kept in memory so that a stop signal can still write this epoch's end: resuming
            # from an epoch boundary gives the numbers of an uninterrupted run.
            self._unwritten_last = snapshot_checkpoint(trainer)

    def on_exception(self, trainer: Any, pl_module: Any, exception: BaseException) -> None:
        """A stop signal (SIGTERM, SIGUSR1 or Ctrl-C) ends fit: write the newest epoch end that
        the cadence left unwritten, before the process exits."""
        stopped = isinstance(exception, SIGTERMException | KeyboardInterrupt)
        unwritten, self._unwritten_last = self._unwritten_last, None
        if not stopped or unwritten is None or not trainer.is_global_zero:
            return
        path = Path(self.dirpath or ".") / f"{self.CHECKPOINT_NAME_LAST}{self.FILE_EXTENSION}"
        trainer.strategy.checkpoint_io.save_checkpoint(unwritten, path)
        self.last_model_path = str(path)

    def save_last_now(self, trainer: Any) -> None:
        """Write last.ckpt now (when `save_last` is on), unless it already holds this step or
        the trainer is not fitting."""
        if (
            not self.save_last
            or trainer.fast_dev_run
            or trainer.sanity_checking
            or trainer.state.fn != "fit"
            or self._last_written_step == trainer.global_step
        ):
            return
        save_last(self, trainer)
        self._unwritten_last = None
        self._last_written_step = trainer.global_step
        self._last_written_at = self.clock()

    def _save_last_checkpoint(self, trainer: Any, monitor_candidates: dict[str, Any]) -> None:
        """Lightning calls this whenever it saves a best checkpoint (and in a few other places);
        here last.ckpt follows the cadence instead, written by `save_last_now` only."""

    def state_dict(self) -> dict[str, Any]:
        return {**super().state_dict(), "best_tie_value": self.best_tie_value}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        super().load_state_dict(state_dict)
        self.best_tie_value = state_dict.get("best_tie_value")
