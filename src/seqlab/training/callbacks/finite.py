"""Stops training at the first non-finite loss or gradient, before it reaches the weights, and
warns once when a finite loss grows by orders of magnitude.

A NaN or infinite value never recovers: every later step and checkpoint would be garbage. The
run stops at once with the epoch, step and last finite gradient norm, and the checkpoints saved
so far (the last good ones) stay as they are. A loss that only grows huge (optim.lr=1e3 ends at
a test loss of 5e16) finishes "successfully", so it gets a warning with the step it happened.
"""

import logging
import math
from typing import Any

import torch
from lightning.pytorch.callbacks import Callback

from seqlab.errors import SeqlabError
from seqlab.training.gradient_norms import gradient_norm

log = logging.getLogger(__name__)

# A cross-entropy loss this many times its first value: the optimisation is diverging.
DIVERGENCE_FACTOR = 100.0


class NonFiniteError(SeqlabError):
    """Training produced a NaN or infinite loss or gradient."""


class NonFiniteGuard(Callback):
    def __init__(self) -> None:
        self.last_finite_norm: float | None = None
        self.parameters: list[torch.Tensor] = []
        self.loss: torch.Tensor | None = None
        self.first_loss: float | None = None
        self.warned_divergence = False

    def on_train_start(self, trainer: Any, pl_module: Any) -> None:
        # Listed once: walking the module tree (the metric collections are modules too) on every
        # step cost more than the norm itself.
        self.parameters = list(pl_module.parameters())

    def on_before_backward(self, trainer: Any, pl_module: Any, loss: torch.Tensor) -> None:
        # Checked with the gradients below, in one read of both values per step: a non-finite
        # loss makes its gradients non-finite too, and neither reaches the weights.
        self.loss = loss.detach()

    def on_before_optimizer_step(self, trainer: Any, pl_module: Any, optimizer: Any) -> None:
        # Lightning calls this before it clips, so the norm is the raw one.
        if not any(p.grad is not None for p in self.parameters):
            return
        total = gradient_norm(self.parameters)
        loss = self.loss.to(total).reshape(()) if self.loss is not None else torch.zeros_like(total)
        norm, loss_value = torch.stack([total, loss]).tolist()
        if not math.isfinite(loss_value):
            self._stop(trainer, f"non-finite loss ({loss_value})")
        if not math.isfinite(norm):
            if getattr(trainer.precision_plugin, "scaler", None) is not None:
                # 16-bit mixed precision: the gradient scaler skips a step whose scaled
                # gradients overflowed and lowers its scale; that is expected, not a failure.
                return
            self._stop(trainer, f"non-finite gradient norm ({norm})")
        self.last_finite_norm = norm
        self._check_divergence(trainer, pl_module, loss_value)
        # Handed to the module, which clips with it instead of walking every gradient again.
        record = getattr(pl_module, "record_grad_norm", None)
        if record is not None:
            record(trainer.global_step, norm)

    def _check_divergence(self, trainer: Any, pl_module: Any, loss: float) -> None:
        if self.first_loss is None:
            self.first_loss = loss
            return
        if self.warned_divergence or loss <= DIVERGENCE_FACTOR * max(self.first_loss, 1e-8):
            return
        self.warned_divergence = True
        log.warning(
            "epoch %d, step %d: the training loss %.3g is %.0fx its first value %.3g: training "
            "diverges; lower optim.lr=%s",
            trainer.current_epoch,
            trainer.global_step,
            loss,
            loss / max(self.first_loss, 1e-8),
            self.first_loss,
            _learning_rate(pl_module),
        )

    def _stop(self, trainer: Any, what: str) -> None:
        last = "none yet" if self.last_finite_norm is None else f"{self.last_finite_norm:.4g}"
        raise NonFiniteError(
            f"{what} at epoch {trainer.current_epoch}, step {trainer.global_step} (last finite "
            f"gradient norm: {last}); training stopped, earlier checkpoints kept; {_hint(trainer)}"
        )


def _hint(trainer: Any) -> str:
    clip = getattr(trainer, "gradient_clip_val", None)
    if clip:
        return f"lower optim.lr (gradients are already clipped: trainer.gradient_clip_val={clip})"
    return "lower optim.lr or clip gradients (trainer.gradient_clip_val=1.0)"


def _learning_rate(pl_module: Any) -> str:
    optim = getattr(pl_module, "hparams", {}).get("optim") or {}
    return f"{optim['lr']:g}" if "lr" in optim else "?"
