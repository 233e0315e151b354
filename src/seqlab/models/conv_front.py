"""A convolutional front end before the recurrence: Conv1d -> LayerNorm -> ReLU per layer, the
CNN-RNN hybrids' way of reading a long series as a shorter sequence of local shapes (a learned,
overlapping generalisation of `model.chunk`).

Padding never changes a result: each layer zeroes the steps past a sequence's length before it
convolves, so a window that reaches past the end reads zeros, as the same sequence alone reads
the convolution's own zero padding; lengths follow the convolution's output-length rule.
LayerNorm normalises each step over its channels, so no statistic mixes sequences of a batch
or real steps with padding (BatchNorm's batch statistics would).
"""

import torch
from torch import nn

from seqlab.models.pooling import time_mask


class ConvFront(nn.Module):
    def __init__(self, input_dim: int, channels: list[int], kernel: int, stride: int):
        super().__init__()
        self.kernel, self.stride, self.padding = kernel, stride, kernel // 2
        self.convs = nn.ModuleList()
        self.norms = nn.ModuleList()
        width = input_dim
        for out in channels:
            self.convs.append(nn.Conv1d(width, out, kernel, stride, padding=self.padding))
            self.norms.append(nn.LayerNorm(out))
            width = out
        self.output_dim = width

    def output_lengths(self, lengths: torch.Tensor) -> torch.Tensor:
        """Steps out of the front end per sequence (unchanged without layers)."""
        for _ in self.convs:
            lengths = conv_lengths(lengths, self.kernel, self.stride, self.padding)
        return lengths

    def forward(
        self, inputs: torch.Tensor, lengths: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """(batch, time, features) -> (batch, time', channels) and the lengths in time'."""
        for conv, norm in zip(self.convs, self.norms, strict=True):
            real = time_mask(lengths, inputs.shape[1]).unsqueeze(-1)
            inputs = torch.where(real, inputs, torch.zeros_like(inputs))
            inputs = conv(inputs.transpose(1, 2)).transpose(1, 2)
            lengths = conv_lengths(lengths, self.kernel, self.stride, self.padding)
            inputs = torch.relu(norm(inputs))
        return inputs, lengths


def conv_lengths(lengths: torch.Tensor, kernel: int, stride: int, padding: int) -> torch.Tensor:
    """Conv1d's output length: floor((length + 2 padding - kernel) / stride) + 1 (at least 1
    for padding = kernel // 2)."""
    return torch.div(lengths + 2 * padding - kernel, stride, rounding_mode="floor") + 1
