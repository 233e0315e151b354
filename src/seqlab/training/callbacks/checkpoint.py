"""Checkpointing: the best epoch with ties broken, and last.ckpt after every epoch.

Lightning's ModelCheckpoint rewrites last.ckpt only when it saves a new best checkpoint, so after
the best epoch a crash would lose every later epoch; here last.ckpt follows every validation.

Small validation sets (GunPoint keeps 10 series) make F1 or accuracy saturate: many epochs reach
val/f1 = 1.0, and Lightning's ModelCheckpoint keeps the first of them, often an undertrained
early epoch. Among epochs that tie on the monitored metric, this one keeps the one with the best
tie-breaker (by default the lowest val/loss).
"""

from functools import cached_property
from typing import Any

import torch
from lightning.pytorch.callbacks import ModelCheckpoint

from seqlab.training.lightning_private import (
    save_last,
    saved_at_this_step,
    saves_on_train_epoch_end,
)


class BestAndLastCheckpoint(ModelCheckpoint):
    def __init__(self, *args: Any, tie_breaker: str | None = None, **kwargs: Any):
        """`tie_breaker`: a metric where lower is better (such as val/loss)."""
        super().__init__(*args, **kwargs)
        if self.save_top_k != 1 and tie_breaker is not None:
            raise ValueError("a tie-breaker is defined for save_top_k=1 only")
        self.tie_breaker = tie_breaker
        self.best_tie_value: float | None = None

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

    def _after_save(self, trainer: Any, best_before: str) -> None:
        if self.tie_breaker is not None and self.best_model_path != best_before:
            # a new best checkpoint (each epoch's file has its own name): remember its tie value
            self.best_tie_value = float(trainer.callback_metrics[self.tie_breaker])
        if self.save_last and not saved_at_this_step(self, trainer):
            save_last(self, trainer)

    def state_dict(self) -> dict[str, Any]:
        return {**super().state_dict(), "best_tie_value": self.best_tie_value}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        super().load_state_dict(state_dict)
        self.best_tie_value = state_dict.get("best_tie_value")
