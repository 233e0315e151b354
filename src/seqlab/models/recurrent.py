"""RNN, LSTM and GRU encoders on torch's fused kernels, exact for variable-length batches.

Batches without padding run the fused kernel as they are. Padded training batches on a CPU
that are mostly real steps (length bucketing keeps text batches so) run each layer and
direction as a one-layer fused kernel, with each sequence reversed within its length for the
reverse direction (models/padded.py): torch's packed path on a CPU is a step-by-step loop
whose backward costs far more than the recurrence. Other padded batches (inference, mostly
padding, cuDNN) are packed. Either way a padded step never reaches a real step's state.

Hidden states for gradient diagnostics: `request_hidden_states()` makes the next forward with
autograd on run step by step (models/unrolled.py), keeping every h_t in the graph; after that
step's backward, `take_hidden_states()` hands them over (their `.grad` is the total dL/dh_t).
Every other forward uses the fused kernel.

Around the recurrence: `chunk` k folds k consecutive steps into one (k*features wide, a k times
shorter recurrence; `auto` picks k from the data's max_length, models/config.py; padding is
zeroed first, so a chunk that straddles a sequence's end reads zeros whatever the batch holds
there), `layer_norm` normalises each state vector the pooling reads, and `gate_bias` / `init`
set the initial parameters per cell (forget or update gate bias; the IRNN's identity
recurrence).
"""

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from seqlab.data.meta import DataMeta
from seqlab.errors import SeqlabError
from seqlab.models.attention import AttentionPooling
from seqlab.models.config import RecurrentConfig, resolve_chunk
from seqlab.models.padded import mostly_real, one_layer_templates, padded_recurrence
from seqlab.models.pooling import masked_pool, time_mask
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
        chunk: int = 1,
        layer_norm: bool = False,
        gate_bias: float | None = None,
        chrono: int = 0,
        nonlinearity: str = "tanh",
        init: str = "default",
    ):
        super().__init__()
        extra = {"nonlinearity": nonlinearity} if cell == "rnn" else {}
        self.rnn = CELLS[cell](
            input_size=input_dim * chunk,
            hidden_size=hidden_size,
            num_layers=num_layers,
            bidirectional=bidirectional,
            dropout=dropout if num_layers > 1 else 0.0,
            batch_first=True,
            **extra,
        )
        if init == "identity":
            _identity_init(self.rnn)
        if chrono and cell != "rnn":
            _chrono_init(self.rnn, cell, chrono)
        elif gate_bias is not None:
            _set_keep_gate_bias(self.rnn, gate_bias)
        if single_bias:
            _drop_hidden_bias(self.rnn, cell)
        self.pooling = pooling
        self.chunk = chunk
        self.directions = 2 if bidirectional else 1
        self.output_dim = hidden_size * self.directions
        self.per_step = False  # task=tag: every step's output, (batch, time, output_dim)
        self.norm: nn.Module = nn.LayerNorm(self.output_dim) if layer_norm else nn.Identity()
        self.attention = AttentionPooling(self.output_dim) if pooling == "attention" else None
        self._record_next = False
        self._hidden_states: HiddenStates = {}
        # Padded training batches on a CPU that are mostly real steps: one-layer fused
        # kernels (models/padded.py), not packing, whose backward is the slow part. Forwards
        # without autograd (validation, test, predict) keep packing: its results for a
        # sequence do not depend on the other sequences of its batch to the last bit, so
        # predictions under DDP equal a single process's byte for byte. A ReLU RNN keeps
        # packing: its state is unbounded, and the padded steps it would run past a
        # sequence's end could overflow into the backward.
        bounded = not (cell == "rnn" and nonlinearity == "relu")
        self._templates = one_layer_templates(self.rnn) if bounded else []

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
            chunk=resolve_chunk(config.chunk, meta.max_length),
            layer_norm=config.layer_norm,
            gate_bias=config.keep_gate_bias,
            chrono=config.chrono,
            nonlinearity=config.nonlinearity,
            init=config.init,
        )

    def request_hidden_states(self) -> None:
        """Keep every h_t of the next forward with autograd on (a step-by-step forward)."""
        self._record_next = True

    def take_hidden_states(self) -> HiddenStates:
        """The states kept by the last requested forward (empty if none), released here so
        the graph's saved tensors are freed."""
        states, self._hidden_states = self._hidden_states, {}
        return states

    def step_lengths(self, lengths: torch.Tensor) -> torch.Tensor:
        """Steps of the recurrence per sequence: ceil(length / chunk)."""
        return chunked_lengths(lengths, self.chunk)

    def chunk_steps(
        self, inputs: torch.Tensor, lengths: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        return chunk_steps(inputs, lengths, self.chunk)

    def pool(
        self, outputs: torch.Tensor, lengths: torch.Tensor, last: torch.Tensor
    ) -> torch.Tensor:
        return pool_states(outputs, lengths, last, self.pooling, self.norm, self.attention)

    def forward(self, inputs: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        inputs, lengths = self.chunk_steps(inputs, lengths)
        max_length = inputs.shape[1]
        if self._record_next and torch.is_grad_enabled():
            self._record_next = False
            outputs, hidden, self._hidden_states = unrolled_forward(self.rnn, inputs, lengths)
            last = self._last_states(hidden)
        elif bool((lengths == max_length).all()):
            outputs, hidden = self.rnn(inputs)
            last = self._last_states(hidden)
        elif (
            self._templates
            and inputs.device.type == "cpu"
            and torch.is_grad_enabled()
            and (mostly_real(lengths, max_length))
        ):
            outputs, last = padded_recurrence(self.rnn, self._templates, inputs, lengths)
        else:
            packed = pack_padded_sequence(
                inputs, lengths.cpu(), batch_first=True, enforce_sorted=False
            )
            packed_outputs, hidden = self.rnn(packed)
            outputs, _ = pad_packed_sequence(
                packed_outputs, batch_first=True, total_length=max_length
            )
            last = self._last_states(hidden)
        if self.per_step:  # task=tag: every step's state (config check: chunk=1 there)
            return self.norm(outputs)
        return self.pool(outputs, lengths, last)

    def _last_states(self, hidden) -> torch.Tensor:
        """The top layer's final state per direction: forward at the last real step, backward
        at the first."""
        h_n = hidden[0] if isinstance(hidden, tuple) else hidden  # LSTM returns (h_n, c_n)
        top_layer = h_n[-self.directions :]  # (directions, batch, hidden)
        return top_layer.transpose(0, 1).reshape(h_n.shape[1], -1)


def chunked_lengths(lengths: torch.Tensor, chunk: int) -> torch.Tensor:
    return torch.div(lengths + (chunk - 1), chunk, rounding_mode="floor")


def chunk_steps(
    inputs: torch.Tensor, lengths: torch.Tensor, chunk: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """(batch, ceil(time / chunk), chunk * features) inputs and their lengths in chunks."""
    if chunk == 1:
        return inputs, lengths
    real = time_mask(lengths, inputs.shape[1]).unsqueeze(-1)
    inputs = torch.where(real, inputs, torch.zeros_like(inputs))
    filler = inputs.new_zeros(inputs.shape[0], chunk - 1, inputs.shape[2])
    # step indices of each chunk: ceil(time / chunk) rows; k - 1 zero steps complete the last
    # (gathered rather than reshaped, so an exported graph takes any number of steps)
    starts = torch.arange(0, inputs.shape[1], chunk, device=inputs.device)
    steps = starts[:, None] + torch.arange(chunk, device=inputs.device)[None, :]
    windows = torch.cat([inputs, filler], dim=1)[:, steps]  # (batch, chunks, chunk, features)
    return windows.flatten(2), chunked_lengths(lengths, chunk)


def pool_states(
    outputs: torch.Tensor,
    lengths: torch.Tensor,
    last: torch.Tensor,
    pooling: str,
    norm: nn.Module,
    attention: AttentionPooling | None,
) -> torch.Tensor:
    """One vector per sequence from the top layer's outputs, or its final states `last`."""
    if pooling == "last":
        return norm(last)
    outputs = norm(outputs)
    if attention is not None:
        return attention(outputs, lengths)
    return masked_pool(outputs, lengths, pooling)


def _identity_init(rnn: nn.RNNBase) -> None:
    """The IRNN of Le, Jaitly & Hinton (2015): W_hh = I and zero biases, so at initialisation
    (with ReLU) the state is carried unchanged and gradients neither vanish nor explode; W_ih
    drawn from N(0, 0.001^2)."""
    with torch.no_grad():
        for name, parameter in rnn.named_parameters():
            if name.startswith("weight_hh"):
                parameter.copy_(torch.eye(*parameter.shape))
            elif name.startswith("weight_ih"):
                parameter.normal_(0.0, 0.001)
            else:
                parameter.zero_()


def _set_keep_gate_bias(rnn: nn.RNNBase, value: float) -> None:
    """Start the gate that keeps the state open: the LSTM's forget gate (torch's gate order
    i, f, g, o) or the GRU's update gate (r, z, n; h' = (1 - z) n + z h), the second block of
    both. The two biases only add up there, so the input bias holds the value and the hidden
    bias 0."""
    size = rnn.hidden_size
    with torch.no_grad():
        for name, parameter in rnn.named_parameters():
            if name.startswith("bias_"):
                parameter[size : 2 * size] = value if name.startswith("bias_ih") else 0.0


def _chrono_init(rnn: nn.RNNBase, cell: str, horizon: int) -> None:
    """Chrono initialisation (Tallec & Ollivier 2018): each unit's keep-gate bias is
    log(u), u ~ U(1, horizon - 1), so its state decays over about u steps at first and the
    units together cover time scales up to the horizon; the LSTM's input gate gets -log(u), so
    a unit that keeps long writes little. Hidden biases of those gates are 0."""
    size = rnn.hidden_size
    first = 0 if cell == "lstm" else size  # the gate blocks set here: lstm i and f, gru z
    with torch.no_grad():
        for name, parameter in rnn.named_parameters():
            if name.startswith("bias_hh"):
                parameter[first : 2 * size] = 0.0
            elif name.startswith("bias_ih"):
                keep = torch.empty(size).uniform_(1.0, horizon - 1.0).log()
                parameter[size : 2 * size] = keep
                if cell == "lstm":
                    parameter[:size] = -keep


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
