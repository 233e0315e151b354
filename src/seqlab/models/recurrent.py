"""RNN, LSTM and GRU encoders on torch's fused kernels, exact for variable-length batches.

Batches with padding are packed, so a padded step never reaches the recurrence in either
direction; batches without padding skip packing (same numbers, less overhead).

Hidden states for gradient diagnostics: `request_hidden_states()` makes the next forward with
autograd on run step by step (models/unrolled.py), keeping every h_t in the graph; after that
step's backward, `take_hidden_states()` hands them over (their `.grad` is the total dL/dh_t).
Every other forward uses the fused kernel.
"""

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from seqlab.data.meta import DataMeta
from seqlab.errors import SeqlabError
from seqlab.models.config import RecurrentConfig
from seqlab.models.pooling import masked_pool
from seqlab.models.unrolled import HiddenStates, unrolled_forward

CELLS = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}


class RecurrentEncoder(nn.Module):
    def __init__(
        self,
        input_dim: int,
        cell: str,
        hidden_size: int,
        num_layers: int,
        bidirectional: bool,
        dropout: float,
        pooling: str,
        single_bias: bool,
    ):
        super().__init__()
        self.rnn = CELLS[cell](
            input_size=input_dim,
            hidden_size=hidden_size,
            num_layers=num_layers,
            bidirectional=bidirectional,
            dropout=dropout if num_layers > 1 else 0.0,
            batch_first=True,
        )
        if single_bias:
            _drop_hidden_bias(self.rnn, cell)
        self.pooling = pooling
        self.directions = 2 if bidirectional else 1
        self.output_dim = hidden_size * self.directions
        self.per_step = False  # task=tag: every step's output, (batch, time, output_dim)
        self._record_next = False
        self._hidden_states: HiddenStates = {}

    @classmethod
    def from_config(
        cls, config: RecurrentConfig, meta: DataMeta, input_dim: int
    ) -> "RecurrentEncoder":
        return cls(
            input_dim=input_dim,
            cell=config.cell,
            hidden_size=config.hidden_size,
            num_layers=config.num_layers,
            bidirectional=config.bidirectional,
            dropout=config.dropout,
            pooling=config.pooling,
            single_bias=config.single_bias,
        )

    def request_hidden_states(self) -> None:
        """Keep every h_t of the next forward with autograd on (a step-by-step forward)."""
        self._record_next = True

    def take_hidden_states(self) -> HiddenStates:
        """The states kept by the last requested forward (empty if none), released here so
        the graph's saved tensors are freed."""
        states, self._hidden_states = self._hidden_states, {}
        return states

    def forward(self, inputs: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        max_length = inputs.shape[1]
        if self._record_next and torch.is_grad_enabled():
            self._record_next = False
            outputs, hidden, self._hidden_states = unrolled_forward(self.rnn, inputs, lengths)
        elif bool((lengths == max_length).all()):
            outputs, hidden = self.rnn(inputs)
        else:
            packed = pack_padded_sequence(
                inputs, lengths.cpu(), batch_first=True, enforce_sorted=False
            )
            packed_outputs, hidden = self.rnn(packed)
            outputs, _ = pad_packed_sequence(
                packed_outputs, batch_first=True, total_length=max_length
            )
        if self.per_step:
            return outputs
        if self.pooling == "last":
            return self._last_states(hidden)
        return masked_pool(outputs, lengths, self.pooling)

    def _last_states(self, hidden) -> torch.Tensor:
        """The top layer's final state per direction: forward at the last real step, backward
        at the first."""
        h_n = hidden[0] if isinstance(hidden, tuple) else hidden  # LSTM returns (h_n, c_n)
        top_layer = h_n[-self.directions :]  # (directions, batch, hidden)
        return top_layer.transpose(0, 1).reshape(h_n.shape[1], -1)


def _drop_hidden_bias(rnn: nn.RNNBase, cell: str) -> None:
    """Replace each hidden-to-hidden bias by a zero buffer: one bias per gate, as in Keras.

    For RNN and LSTM the two torch biases only ever appear as a sum, so one of them is
    redundant and the model family is unchanged (LSTM(64 -> 128): 98,816 parameters, Keras's
    count, instead of 99,328). The fused kernel still receives four tensors per layer.
    """
    if cell == "gru":
        # the GRU's hidden bias sits inside the reset gate's product, so it is not redundant;
        # torch's GRU already equals Keras's default GRU (reset_after=True, two biases)
        raise SeqlabError(
            "model.single_bias=true applies to rnn and lstm cells; torch's GRU already has "
            "Keras's default GRU parameters (reset_after=True), set model.single_bias=false"
        )
    for name in [n for n in rnn._parameters if n.startswith("bias_hh")]:
        bias = rnn._parameters.pop(name)
        assert bias is not None  # nn.RNNBase registers each bias_hh* as a Parameter
        rnn.register_buffer(name, torch.zeros_like(bias.data))
    rnn._init_flat_weights()  # the kernel's weight list now holds the buffers
