"""A multilayer perceptron over a whole sequence: flattened, or pooled over time."""

import torch
import torch.nn.functional as F
from torch import nn

from seqlab.data.meta import DataMeta
from seqlab.models.config import MLPConfig
from seqlab.models.pooling import masked_pool, time_mask

ACTIVATIONS = {"relu": nn.ReLU, "tanh": nn.Tanh, "sigmoid": nn.Sigmoid}


class MLPEncoder(nn.Module):
    def __init__(
        self,
        input_dim: int,
        max_length: int,
        hidden_sizes: list[int],
        activation: str,
        dropout: float,
        input: str,
    ):
        super().__init__()
        self.input_mode, self.max_length = input, max_length
        width = input_dim * max_length if input == "flatten" else input_dim
        layers: list[nn.Module] = []
        for size in hidden_sizes:
            layers += [nn.Dropout(dropout), nn.Linear(width, size), ACTIVATIONS[activation]()]
            width = size
        self.layers = nn.Sequential(*layers)
        self.output_dim = width

    @classmethod
    def from_config(cls, config: MLPConfig, meta: DataMeta, input_dim: int) -> "MLPEncoder":
        return cls(
            input_dim=input_dim,
            max_length=meta.max_length,
            hidden_sizes=list(config.hidden_sizes),
            activation=config.activation,
            dropout=config.dropout,
            input=config.input,
        )

    @property
    def fixed_length(self) -> int | None:
        """The one length the flattened input takes (an export pads its inputs to it)."""
        return self.max_length if self.input_mode == "flatten" else None

    def forward(self, inputs: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        if self.input_mode == "flatten":
            # Batches are trimmed to their longest sequence; restore the fixed width the first
            # layer was built for, with padded steps exactly zero.
            inputs = inputs * time_mask(lengths, inputs.shape[1]).unsqueeze(-1)
            inputs = F.pad(inputs, (0, 0, 0, self.max_length - inputs.shape[1]))
            features = inputs.flatten(start_dim=1)
        else:
            features = masked_pool(inputs, lengths, self.input_mode)
        return self.layers(features)
