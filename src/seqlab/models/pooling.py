"""Pooling over the real (unpadded) time steps of a batch."""

import torch


def time_mask(lengths: torch.Tensor, max_length: int) -> torch.Tensor:
    """(batch, time) True where a step is real, False where it is padding."""
    steps = torch.arange(max_length, device=lengths.device)
    return steps[None, :] < lengths[:, None].to(steps.device)


def masked_pool(values: torch.Tensor, lengths: torch.Tensor, mode: str) -> torch.Tensor:
    """Mean or max over time of (batch, time, features), ignoring padded steps."""
    mask = time_mask(lengths, values.shape[1]).unsqueeze(-1)
    if mode == "mean":
        total = values.masked_fill(~mask, 0.0).sum(dim=1)
        return total / lengths.to(values.dtype).unsqueeze(-1)
    if mode == "max":
        return values.masked_fill(~mask, float("-inf")).max(dim=1).values
    raise ValueError(f"unknown pooling {mode!r}")
