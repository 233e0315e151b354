"""Options of the `model` group, one dataclass per encoder kind (kept free of torch so the
config is checked before torch is imported)."""

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
    # of a sequence whose length k does not divide is completed with zeros
    chunk: int = 1
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
        require(self.chunk >= 1, "model.chunk", self.chunk, "must be at least 1")
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


def require_dropout(key: str, value: float) -> None:
    require(0.0 <= value < 1.0, key, value, "must lie in [0, 1)")
