"""The recurrence of a padded batch through one-layer fused kernels, exact for variable lengths.

Why it exists: on a CPU, torch runs a PackedSequence through its step-by-step native loop
rather than oneDNN's fused kernel, and that loop's backward builds a zero tensor the size of
the whole packed batch for every time step it sliced, so long documents cost far more than
their recurrence (docs/performance.md has the profile). Here each layer and direction runs as
its own one-layer kernel on the padded tensor, with the same parameters (called through
`torch.func.functional_call` on a template module, so gradients reach the trained
module): the forward direction reads padding only after a sequence's real steps, so
its real outputs are unchanged; the reverse direction gets each sequence reversed within its
own length, so it starts at the last real step, as packing makes it. Padded inputs are zeroed
first, so garbage (NaN, inf) there never reaches a product, and outputs at padded steps are
zero, as pad_packed_sequence gives them. The exported graph (models/exportable.py) runs the
same scheme.
"""

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call

from seqlab.models.pooling import time_mask

WEIGHTS = ("weight_ih", "weight_hh", "bias_ih", "bias_hh")
# The padded path runs every padded step; packing runs only real ones but pays per step. At
# least this fraction of a batch's steps must be real for the padded path to be taken (a batch
# that is mostly padding, as CDNOW's short purchase histories, trains faster packed:
# docs/performance.md).
MIN_REAL_FRACTION = 0.5


def mostly_real(lengths: torch.Tensor, max_length: int) -> bool:
    return int(lengths.sum()) >= MIN_REAL_FRACTION * lengths.numel() * max_length


def reverse_steps(lengths: torch.Tensor, max_length: int) -> torch.Tensor:
    """(batch, time) index: position t of a reversed sequence reads step length-1-t; padding
    stays where it is."""
    steps = torch.arange(max_length, device=lengths.device).unsqueeze(0)
    ends = lengths.to(steps.device).unsqueeze(1)
    return torch.where(steps < ends, ends - 1 - steps, steps)


def take_steps(values: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """values[b, index[b, t]] for (batch, time, features) values."""
    return values.gather(1, index.unsqueeze(-1).expand(-1, -1, values.shape[-1]))


def one_layer_templates(rnn: nn.RNNBase) -> list[nn.RNNBase]:
    """One unidirectional one-layer module of the same cell per layer (its own parameters are
    never used: every call substitutes the trained layer's). Built with the random generator's
    state put back afterwards: their initialisation must not move the draws of the layers
    built after them, or every seeded run would start from other weights."""
    extra = {"nonlinearity": rnn.nonlinearity} if isinstance(rnn, nn.RNN) else {}
    directions = 2 if rnn.bidirectional else 1
    cell: Callable[..., nn.RNNBase] = type(rnn)  # nn.RNN, nn.LSTM or nn.GRU
    with torch.random.fork_rng(devices=[]):
        return [
            cell(
                rnn.input_size if layer == 0 else rnn.hidden_size * directions,
                rnn.hidden_size,
                batch_first=True,
                **extra,
            )
            for layer in range(rnn.num_layers)
        ]


def padded_recurrence(
    rnn: nn.RNNBase, templates: list[nn.RNNBase], inputs: torch.Tensor, lengths: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """(outputs, last): the top layer's (batch, time, directions * hidden) outputs, zero at
    padded steps, and its final states (batch, directions * hidden): the forward direction's
    at the last real step, the reverse direction's at the first, as a packed forward gives
    them. `rnn` is batch_first."""
    real = time_mask(lengths, inputs.shape[1]).unsqueeze(-1)
    reverse = reverse_steps(lengths, inputs.shape[1])
    hidden = torch.where(real, inputs, torch.zeros_like(inputs))
    outputs: list[torch.Tensor] = []
    for layer, template in enumerate(templates):
        if layer > 0 and rnn.dropout and rnn.training:
            hidden = F.dropout(hidden, rnn.dropout, training=True)
        outputs = []
        for suffix in ("", "_reverse")[: 2 if rnn.bidirectional else 1]:
            weights = {f"{name}_l0": getattr(rnn, f"{name}_l{layer}{suffix}") for name in WEIGHTS}
            if suffix:
                out = functional_call(template, weights, (take_steps(hidden, reverse),))[0]
                outputs.append(take_steps(out, reverse))
            else:
                outputs.append(functional_call(template, weights, (hidden,))[0])
        hidden = torch.cat(outputs, dim=-1) if len(outputs) > 1 else outputs[0]
    last = take_steps(outputs[0], (lengths - 1).clamp(min=0).unsqueeze(1))[:, 0]
    if len(outputs) == 2:
        last = torch.cat([last, outputs[1][:, 0]], dim=-1)
    return torch.where(real, hidden, torch.zeros_like(hidden)), last
