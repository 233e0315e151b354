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


class BestAndLastCheckpoint(ModelCheckpoint):
    def __init__(
        self,
        *args: Any,
        tie_breaker: str | None = None,
        tie_breaker_mode: str = "min",
        **kwargs: Any,
    ):
        super().__init__(*args, **kwargs)
        if self.save_top_k != 1 and tie_breaker is not None:
            raise ValueError("a tie-breaker is defined for save_top_k=1 only")
        self.tie_breaker, self.tie_breaker_mode = tie_breaker, tie_breaker_mode
        self.best_tie_value: float | None = None

    @cached_property
    def state_key(self) -> str:
        # Lightning formats every callback's key on every hook call (a profiler label); this
        # one is built from settings that never change after __init__.
        return super().state_key

    def check_monitor_top_k(self, trainer: Any, current: torch.Tensor | None = None) -> bool:
        if (
            self.tie_breaker is None
            or current is None
            or not self.best_k_models
            or self.best_tie_value is None
            or float(current) != float(self.best_k_models[self.kth_best_model_path])
        ):
            return super().check_monitor_top_k(trainer, current)
        candidate = float(trainer.callback_metrics[self.tie_breaker])
        better = (
            candidate < self.best_tie_value
            if self.tie_breaker_mode == "min"
            else candidate > self.best_tie_value
        )
        return trainer.strategy.reduce_boolean_decision(better)

    def _update_best_and_save(
        self, current: torch.Tensor, trainer: Any, monitor_candidates: dict[str, torch.Tensor]
    ) -> None:
        super()._update_best_and_save(current, trainer, monitor_candidates)
        if self.tie_breaker is not None:
            self.best_tie_value = float(monitor_candidates[self.tie_breaker])

    # Lightning saves either at validation end or at train-epoch end; follow the same choice.
    def on_validation_end(self, trainer: Any, pl_module: Any) -> None:
        super().on_validation_end(trainer, pl_module)
        if not self._should_save_on_train_epoch_end(trainer):
            self._save_last_if_not_saved(trainer)

    def on_train_epoch_end(self, trainer: Any, pl_module: Any) -> None:
        super().on_train_epoch_end(trainer, pl_module)
        if self._should_save_on_train_epoch_end(trainer):
            self._save_last_if_not_saved(trainer)

    def _save_last_if_not_saved(self, trainer: Any) -> None:
        # _should_skip_saving_checkpoint is True once anything was saved at this global step.
        if self.save_last and not self._should_skip_saving_checkpoint(trainer):
            self._save_last_checkpoint(trainer, self._monitor_candidates(trainer))

    def state_dict(self) -> dict[str, Any]:
        return {**super().state_dict(), "best_tie_value": self.best_tie_value}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        super().load_state_dict(state_dict)
        self.best_tie_value = state_dict.get("best_tie_value")
