"""Per-step outputs and losses, shared by the modules that read every step (task=tag's
SequenceTagger, task=generate's decoders)."""

import torch
from torch import nn

from seqlab.data.batch import IGNORE_LABEL


def per_step_encoder(encoder: nn.Module) -> nn.Module:
    """The encoder, set to return every step's output rather than a pooled vector."""
    if not hasattr(encoder, "per_step"):
        raise ValueError(f"{type(encoder).__name__} has no per-step outputs; use a recurrent one")
    setattr(encoder, "per_step", True)  # noqa: B010 (nn.Module's typing hides it)
    return encoder


def real_steps(
    logits: torch.Tensor, labels: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(batch, time, classes) logits and (batch, time) labels -> the labelled steps' logits and
    labels, flattened, and per sequence with at least one labelled step whether all of its
    labelled steps are predicted right (1.0) or not (0.0)."""
    steps = labels.shape[1]
    logits = logits[:, :steps]  # the encoder pads to the batch's longest sequence
    real = labels != IGNORE_LABEL
    wrong = (logits.argmax(dim=-1) != labels) & real
    has_steps = real.any(dim=1)
    exact = (~wrong.any(dim=1))[has_steps].float()
    return logits[real], labels[real], exact.detach()


def step_loss(loss_fn: nn.Module, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """The mean loss over the labelled steps; zero (still in the graph) when a batch has none,
    where cross-entropy's mean over nothing would be NaN."""
    if labels.numel() == 0:
        return logits.sum() * 0.0
    return loss_fn(logits, labels)
