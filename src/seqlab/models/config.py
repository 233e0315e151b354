"""Options of the `model` group, one dataclass per encoder kind (kept free of torch so the
config is checked before torch is imported)."""

import math
from dataclasses import dataclass, field
from enum import StrEnum

from seqlab.errors import require


class Activation(StrEnum):
    relu = "relu"
    tanh = "tanh"
    sigmoid = "sigmoid"


class MLPInput(StrEnum):
    flatten = "flatten"  # the whole padded sequence as one vector (fixed-length data)
    mean = "mean"  # mean over real time steps
    max = "max"  # max over real time steps


class Cell(StrEnum):
    rnn = "rnn"
    lstm = "lstm"
    gru = "gru"


class Pooling(StrEnum):
    last = "last"
    mean = "mean"
    max = "max"  # gives the gradient a short path to every step
    attention = "attention"  # learned weights over the real steps (models/attention.py)


class Nonlinearity(StrEnum):
    tanh = "tanh"
    relu = "relu"  # with init=identity: the IRNN of Le, Jaitly & Hinton 2015


class RecurrentInput(StrEnum):
    """What the recurrent branch of lstm_fcn / gru_fcn reads as its steps."""

    shuffle = "shuffle"  # Karim et al.'s dimension shuffle: each channel one step of T features
    time = "time"  # the series over time, model.chunk steps per recurrent step


# model.chunk=auto aims at this many recurrent steps per series (docs/timeseries.md)
AUTO_CHUNK_STEPS = 32
AUTO = "auto"


class RecurrentInit(StrEnum):
    default = "default"  # torch's uniform(-1/sqrt(hidden), 1/sqrt(hidden))
    identity = "identity"  # rnn cell: W_hh = I, zero biases, W_ih ~ N(0, 0.001^2) (IRNN)


@dataclass
class InputConfig:
    """How categorical ids (tokens, event types, items) become vectors; unused by purely
    numeric data."""

    embedding_dim: int = 64  # width of each categorical id's vector
    embedding_dropout: float = 0.0  # dropout on the embedded vectors
    freeze_embeddings: bool = False  # keep the embeddings at their initial values

    def __post_init__(self) -> None:
        require_dropout("model.embedding_dropout", self.embedding_dropout)


@dataclass
class MLPConfig(InputConfig):
    kind: str = "mlp"  # the encoder kind (seqlab.models.registry)
    hidden_sizes: list[int] = field(
        default_factory=lambda: [500, 500, 500]
    )  # width of each hidden layer
    activation: Activation = Activation.relu  # non-linearity after each hidden layer
    dropout: float = 0.2  # before every layer and the head
    input: MLPInput = MLPInput.flatten  # what the first layer reads

    def __post_init__(self) -> None:
        super().__post_init__()
        sizes = list(self.hidden_sizes)
        require(min(sizes, default=1) >= 1, "model.hidden_sizes", sizes, "must all be at least 1")
        require_dropout("model.dropout", self.dropout)


@dataclass
class RecurrentConfig(InputConfig):
    kind: str = "recurrent"  # the encoder kind (seqlab.models.registry)
    cell: Cell = Cell.lstm  # the recurrent cell (torch's fused kernels)
    hidden_size: int = 64  # units per direction and layer
    num_layers: int = 1  # stacked recurrent layers
    bidirectional: bool = False  # also read each sequence backwards
    dropout: float = 0.0  # between stacked layers and before the head
    pooling: Pooling = Pooling.max  # how the states over time become one vector
    # One bias vector per gate as in Keras: torch's second (hidden-to-hidden) bias becomes a
    # fixed zero buffer, which for RNN and LSTM loses nothing (the two biases only add up).
    single_bias: bool = False
    # k consecutive steps as one recurrent step (a k-times shorter recurrence); the last chunk
    # of a sequence whose length k does not divide is completed with zeros; auto:
    # ceil(max_length / 32), so the recurrence runs at most 32 steps (docs/timeseries.md)
    chunk: int | str = 1
    layer_norm: bool = False  # LayerNorm over the top layer's states before the pooling
    # Initial bias of the gate that keeps the state (LSTM forget gate, GRU update gate); null:
    # the cell's default, 1.0 for lstm and gru (Jozefowicz et al. 2015), none for rnn
    gate_bias: float | None = None
    # > 0: chrono initialisation (Tallec & Ollivier 2018) for dependencies up to this many
    # recurrent steps, in place of gate_bias: keep-gate biases log(U(1, chrono - 1)) (the LSTM's
    # input gate the negative); the rnn cell has no gate and is left as it is
    chrono: int = 0
    nonlinearity: Nonlinearity = Nonlinearity.tanh  # rnn cell only
    init: RecurrentInit = RecurrentInit.default  # identity: rnn cell only

    def __post_init__(self) -> None:
        super().__post_init__()
        require(self.hidden_size >= 1, "model.hidden_size", self.hidden_size, "must be at least 1")
        require(self.num_layers >= 1, "model.num_layers", self.num_layers, "must be at least 1")
        require_chunk(self.chunk)
        require(
            self.chrono == 0 or self.chrono >= 3,
            "model.chrono",
            self.chrono,
            "must be 0 (off) or at least 3 steps",
        )
        require(
            self.chrono == 0 or self.gate_bias is None,
            "model.gate_bias",
            self.gate_bias,
            "and model.chrono both set the gate biases; set one of them (gate_bias=null)",
        )
        require_dropout("model.dropout", self.dropout)
        plain = self.cell == Cell.rnn
        require(
            plain or self.nonlinearity == Nonlinearity.tanh,
            "model.nonlinearity",
            str(self.nonlinearity),
            f"applies to the rnn cell only ({self.cell} has fixed gate non-linearities); "
            "set model.nonlinearity=tanh or model.cell=rnn",
        )
        require(
            plain or self.init == RecurrentInit.default,
            "model.init",
            str(self.init),
            f"identity applies to the rnn cell only (the IRNN); for {self.cell} set "
            "model.init=default",
        )
        require(
            not plain or self.gate_bias is None,
            "model.gate_bias",
            self.gate_bias,
            "the rnn cell has no gate; set model.gate_bias=null or model.cell=lstm|gru",
        )

    @property
    def keep_gate_bias(self) -> float | None:
        """gate_bias with the cell's default filled in (None for the rnn cell)."""
        if self.cell == Cell.rnn:
            return None
        return 1.0 if self.gate_bias is None else self.gate_bias


@dataclass
class FCNConfig(InputConfig):
    """The fully convolutional network of Wang et al. (2017): convolution, batch norm and ReLU
    per block, then the mean over the real steps."""

    kind: str = "fcn"  # the encoder kind (seqlab.models.registry)
    filters: list[int] = field(default_factory=lambda: [128, 256, 128])  # channels per block
    kernels: list[int] = field(default_factory=lambda: [8, 5, 3])  # kernel size per block
    dropout: float = 0.0  # before the head

    def __post_init__(self) -> None:
        super().__post_init__()
        filters, kernels = list(self.filters), list(self.kernels)
        require(bool(filters), "model.filters", filters, "must name at least one block")
        require(min(filters) >= 1, "model.filters", filters, "must all be at least 1")
        require(min(kernels, default=1) >= 1, "model.kernels", kernels, "must all be at least 1")
        require(
            len(kernels) == len(filters),
            "model.kernels",
            kernels,
            f"must give one kernel size per block of model.filters ({len(filters)})",
        )
        require_dropout("model.dropout", self.dropout)


@dataclass
class RecurrentFCNConfig(FCNConfig):
    """LSTM-FCN (Karim et al. 2018) and GRU-FCN (Elsayed et al. 2018): a recurrent branch
    beside the FCN, both read the same series and their vectors are concatenated."""

    kind: str = "recurrent_fcn"  # the encoder kind (seqlab.models.registry)
    cell: Cell = Cell.lstm  # the recurrent branch's cell
    hidden_size: int = 128  # units of the recurrent branch
    # shuffle: each channel one step of the whole series (Karim et al.); time: over time
    recurrent_input: RecurrentInput = RecurrentInput.shuffle
    recurrent_dropout: float = 0.8  # on the recurrent branch's final state (the papers' 0.8)
    # recurrent_input=time: k consecutive steps per recurrent step, or auto (at most 32 steps);
    # shuffle reads every channel in one step: auto (or 1) there
    chunk: int | str = AUTO

    def __post_init__(self) -> None:
        super().__post_init__()
        require(self.hidden_size >= 1, "model.hidden_size", self.hidden_size, "must be at least 1")
        require_dropout("model.recurrent_dropout", self.recurrent_dropout)
        require_chunk(self.chunk)
        require(
            self.recurrent_input == RecurrentInput.time or self.chunk in (AUTO, 1),
            "model.chunk",
            self.chunk,
            "groups steps over time, but recurrent_input=shuffle reads each channel's whole "
            "series as one step: use model.chunk=auto or model.recurrent_input=time",
        )


def require_chunk(chunk: int | str) -> None:
    whole = isinstance(chunk, int) and not isinstance(chunk, bool)
    require(
        chunk == AUTO or (whole and int(chunk) >= 1),
        "model.chunk",
        chunk,
        "must be a whole number of steps, at least 1, or auto",
    )


def resolve_chunk(chunk: int | str, max_length: int) -> int:
    """model.chunk as a number of steps: auto keeps the recurrence at AUTO_CHUNK_STEPS steps or
    fewer for a series of max_length steps."""
    if chunk == AUTO:
        return max(1, math.ceil(max_length / AUTO_CHUNK_STEPS))
    return int(chunk)


def require_dropout(key: str, value: float) -> None:
    require(0.0 <= value < 1.0, key, value, "must lie in [0, 1)")
