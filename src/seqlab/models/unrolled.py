"""A step-by-step forward of an nn.RNN/LSTM/GRU that keeps every hidden state h_t in autograd.

Why it exists: the fused kernels run the whole recurrence inside one op, so autograd sees h_t
only as an *output*; the gradient that lands there holds the direct path to the loss but not the
path through h_{t+1}, ..., h_T (with pooling=last it is zero for every t < T). The gradient
diagnostics need the total dL/dh_t of BPTT. On the few training steps they log, the encoder runs
the same parameters through torch's one-step cell ops (`torch.lstm_cell` and friends, the ops
behind nn.LSTMCell): every h_t is then a tensor of the graph, and after the ordinary backward of
that training step its `.grad` is exactly the total dL/dh_t. This forward *replaces* the fused one
on that step (same maths, same parameters, same loss): no second forward or backward is run.

Variable lengths follow the packed semantics of the fused path: past a sequence's end the forward
direction keeps its last real state, the reverse direction starts at the last real step, and
outputs at padded steps are zero, as pad_packed_sequence gives them.
"""

from collections.abc import Callable
from typing import Any, Protocol, runtime_checkable

import torch
import torch.nn.functional as F
from torch import nn

from seqlab.models.pooling import time_mask

CELL_OPS: dict[str, Callable[..., Any]] = {
    "RNN_TANH": torch.rnn_tanh_cell,
    "RNN_RELU": torch.rnn_relu_cell,
    "LSTM": torch.lstm_cell,
    "GRU": torch.gru_cell,
}

HiddenStates = dict[str, list[torch.Tensor]]  # "l0", "l0_reverse", ... -> h_t for t = 0..T-1


@runtime_checkable
class RecordsHiddenStates(Protocol):
    """An encoder whose recurrent layer can keep every h_t of its next forward (the recurrent
    encoders, and LSTM-FCN / GRU-FCN for their recurrent branch)."""

    def request_hidden_states(self) -> None: ...

    def take_hidden_states(self) -> HiddenStates: ...

    def step_lengths(self, lengths: torch.Tensor) -> torch.Tensor: ...


def unrolled_forward(
    rnn: nn.RNNBase, inputs: torch.Tensor, lengths: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor | tuple[torch.Tensor, torch.Tensor], HiddenStates]:
    """(outputs, hidden, states) with outputs and hidden laid out as the fused module returns
    them (batch_first), and states[layer_direction][t] = h_t with its gradient retained."""
    if rnn.mode not in CELL_OPS or bool(getattr(rnn, "proj_size", 0)) or not rnn.bias:
        raise ValueError(f"unrolled_forward supports {sorted(CELL_OPS)} with biases, no proj_size")
    cell = CELL_OPS[rnn.mode]
    is_lstm = rnn.mode == "LSTM"
    batch, steps, _ = inputs.shape
    real = time_mask(lengths, steps)
    padded = not bool(real.all())
    keep = [real[:, t, None] for t in range(steps)]
    directions = 2 if rnn.bidirectional else 1

    states: HiddenStates = {}
    final_h: list[torch.Tensor] = []
    final_c: list[torch.Tensor] = []  # LSTM only
    layer_input = inputs
    for layer in range(rnn.num_layers):
        direction_outputs = []
        for direction in range(directions):
            suffix = f"l{layer}" + ("_reverse" if direction else "")
            weights = [getattr(rnn, f"{kind}_{suffix}") for kind in _WEIGHT_KINDS]
            h = inputs.new_zeros(batch, rnn.hidden_size)
            c = inputs.new_zeros(batch, rnn.hidden_size) if is_lstm else None
            hs: list[torch.Tensor] = [h] * steps
            order = range(steps - 1, -1, -1) if direction else range(steps)
            for t in order:
                x = layer_input[:, t]
                if is_lstm:
                    assert c is not None  # set above for an LSTM
                    new_h, new_c = cell(x, (h, c), *weights)
                    c = torch.where(keep[t], new_c, c) if padded else new_c
                else:
                    new_h = cell(x, h, *weights)
                # Padded steps keep the state: forward runs on with its last real state, reverse
                # stays at zero until the sequence's last real step, as packing does.
                h = torch.where(keep[t], new_h, h) if padded else new_h
                h.retain_grad()
                hs[t] = h
            states[suffix] = hs
            output = torch.stack(hs, dim=1)
            direction_outputs.append(output * real[..., None] if padded else output)
            final_h.append(h)
            if c is not None:
                final_c.append(c)
        layer_input = torch.cat(direction_outputs, dim=-1)
        if layer < rnn.num_layers - 1 and rnn.dropout > 0:
            layer_input = F.dropout(layer_input, rnn.dropout, rnn.training)
    h_n = torch.stack(final_h)
    hidden = (h_n, torch.stack(final_c)) if is_lstm else h_n
    return layer_input, hidden, states


_WEIGHT_KINDS = ("weight_ih", "weight_hh", "bias_ih", "bias_hh")
