"""Exact parameter counts per layer, the way Keras's `model.summary()` lists them.

Lightning's own summary rounds (99.3 K); comparing with a Keras model needs every digit, e.g.
the LSTM's 99,328 in torch (two bias vectors) against Keras's 98,816 (one).
"""

from collections.abc import Callable
from pathlib import Path

import torch
from torch import nn

from seqlab.errors import SeqlabError


def layer_parameters(module: nn.Module) -> list[tuple[str, str, int]]:
    """(name, layer type, trainable parameters) of every layer that owns parameters."""
    rows = []
    for name, layer in module.named_modules():
        count = sum(p.numel() for p in layer.parameters(recurse=False) if p.requires_grad)
        if count:
            rows.append((name, _describe(layer), count))
    return rows


def _describe(layer: nn.Module) -> str:
    if isinstance(layer, nn.Embedding):
        return f"Embedding({layer.num_embeddings}, {layer.embedding_dim})"
    if isinstance(layer, nn.RNNBase):
        bias = "one bias" if not hasattr(layer, "bias_hh_l0") or _is_buffer(layer) else "two biases"
        way = ", bidirectional" if layer.bidirectional else ""
        return f"{layer.mode}({layer.input_size} -> {layer.hidden_size}{way}, {bias})"
    if isinstance(layer, nn.Linear):
        return f"Linear({layer.in_features} -> {layer.out_features})"
    if isinstance(layer, nn.Conv1d):
        return f"Conv1d({layer.in_channels} -> {layer.out_channels}, kernel {layer.kernel_size[0]})"
    if isinstance(layer, nn.BatchNorm1d):
        return f"BatchNorm1d({layer.num_features})"
    return type(layer).__name__


def _is_buffer(layer: nn.Module) -> bool:
    return "bias_hh_l0" in dict(layer.named_buffers(recurse=False))


def refuse_oversized(build: Callable[[], nn.Module], available: int | None = None) -> None:
    """Stop, before anything is allocated, a model whose float32 weights alone exceed the memory
    this machine has available: it is built first on PyTorch's meta device, which holds shapes
    and no data. A model that cannot be built there is not checked."""
    try:
        with torch.device("meta"):
            count = sum(p.numel() for p in build().parameters())
    except Exception:  # an initialisation that reads values; the real build will tell
        return
    needed = 4 * count
    available = available if available is not None else available_memory()
    if available is not None and needed > available:
        raise SeqlabError(
            f"model: {count:,} parameters need {needed / 2**30:.1f} GiB for the weights alone, "
            f"more than the {available / 2**30:.1f} GiB available here; make the model smaller "
            "(model.hidden_size, model.num_layers, model.embedding_dim, ...)"
        )


def available_memory() -> int | None:
    """MemAvailable of /proc/meminfo in bytes (None where there is no such file)."""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None
