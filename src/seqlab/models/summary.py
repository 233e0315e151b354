"""Exact parameter counts per layer, the way Keras's `model.summary()` lists them.

Lightning's own summary rounds (99.3 K); comparing with a Keras model needs every digit, e.g.
the LSTM's 99,328 in torch (two bias vectors) against Keras's 98,816 (one).
"""

from torch import nn


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
    return type(layer).__name__


def _is_buffer(layer: nn.Module) -> bool:
    return "bias_hh_l0" in dict(layer.named_buffers(recurse=False))
