"""The fully convolutional network (FCN, Wang et al. 2017) and its recurrent companions,
LSTM-FCN (Karim et al. 2018) and GRU-FCN (Elsayed et al. 2018).

FCN: blocks of Conv1d ('same' padding) -> BatchNorm -> ReLU, then the mean over time. The
recurrent models add a recurrent branch (seqlab's RecurrentEncoder, last state) beside it,
with dropout on that branch's vector, and concatenate the two before the head.

Padding: every padded step is set to zero before each convolution, so a convolution at a
sequence's last real steps reads the zeros a series alone would be padded with ('same'
padding), whatever the batch holds past its end; the mean runs over the real steps only. In
eval mode (batch norm from its running statistics) a sample's output is therefore the same
alone or in any padded batch (tests/test_fcn.py). In training mode batch norm's batch
statistics also count the padded steps' values; the UCR sets of equal length have none.

The recurrent branch reads the series in one of two ways (model.recurrent_input):
- shuffle, the papers' "dimension shuffle": the (time, channels) series is transposed, so the
  cell takes each channel as one step of max_length features (a univariate series: a single
  step); shorter series are zero-padded to max_length, so the model takes one fixed length.
- time: over time, model.chunk steps per recurrent step, packed like the recurrent encoders.
"""

import torch
import torch.nn.functional as F
from torch import nn

from seqlab.data.meta import DataMeta
from seqlab.models.config import FCNConfig, RecurrentFCNConfig, RecurrentInput, resolve_chunk
from seqlab.models.pooling import masked_pool, time_mask
from seqlab.models.recurrent import RecurrentEncoder
from seqlab.models.unrolled import HiddenStates


class FCNEncoder(nn.Module):
    def __init__(self, input_dim: int, filters: list[int], kernels: list[int]):
        super().__init__()
        blocks: list[nn.Module] = []
        width = input_dim
        for size, kernel in zip(filters, kernels, strict=True):
            blocks.append(
                nn.Sequential(nn.Conv1d(width, size, kernel), nn.BatchNorm1d(size), nn.ReLU())
            )
            width = size
        self.blocks = nn.ModuleList(blocks)
        # 'same' padding as torch lays it out (an even kernel gets the extra zero on the
        # right), written out: Conv1d(padding="same") warns about its copy at every run
        self.pads = [((kernel - 1) // 2, kernel // 2) for kernel in kernels]
        self.input_dim, self.output_dim = input_dim, width

    @classmethod
    def from_config(cls, config: FCNConfig, meta: DataMeta, input_dim: int) -> "FCNEncoder":
        return cls(input_dim, list(config.filters), list(config.kernels))

    def forward(self, inputs: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        padding = ~time_mask(lengths, inputs.shape[1]).unsqueeze(1)  # (batch, 1, time)
        values = inputs.transpose(1, 2)  # (batch, channels, time), as Conv1d reads them
        for block, pads in zip(self.blocks, self.pads, strict=True):
            values = block(F.pad(values.masked_fill(padding, 0.0), pads))
        return masked_pool(values.transpose(1, 2), lengths, "mean")


class RecurrentFCNEncoder(nn.Module):
    def __init__(
        self,
        fcn: FCNEncoder,
        recurrent: RecurrentEncoder,
        recurrent_input: str,
        max_length: int,
        recurrent_dropout: float,
    ):
        super().__init__()
        self.fcn, self.recurrent = fcn, recurrent
        self.shuffle = recurrent_input == RecurrentInput.shuffle
        self.max_length = max_length
        self.dropout = nn.Dropout(recurrent_dropout)
        self.output_dim = recurrent.output_dim + fcn.output_dim
        # shuffle: the cell's input width is the series length, so an export takes that one
        self.fixed_length = max_length if self.shuffle else None

    @classmethod
    def from_config(
        cls, config: RecurrentFCNConfig, meta: DataMeta, input_dim: int
    ) -> "RecurrentFCNEncoder":
        shuffle = config.recurrent_input == RecurrentInput.shuffle
        recurrent = RecurrentEncoder(
            input_dim=meta.max_length if shuffle else input_dim,
            cell=config.cell,
            hidden_size=config.hidden_size,
            num_layers=1,
            bidirectional=False,
            dropout=0.0,
            pooling="last",
            single_bias=False,
            chunk=1 if shuffle else resolve_chunk(config.chunk, meta.max_length),
        )
        return cls(
            FCNEncoder.from_config(config, meta, input_dim),
            recurrent,
            config.recurrent_input,
            meta.max_length,
            config.recurrent_dropout,
        )

    def forward(self, inputs: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        convolved = self.fcn(inputs, lengths)
        steps, step_lengths = self.recurrent_steps(inputs, lengths)
        recurrent = self.dropout(self.recurrent(steps, step_lengths))
        return torch.cat([recurrent, convolved], dim=-1)

    def recurrent_steps(
        self, inputs: torch.Tensor, lengths: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """What the recurrent branch reads, and its length in steps per sequence."""
        if not self.shuffle:
            return inputs, lengths
        real = time_mask(lengths, inputs.shape[1]).unsqueeze(-1)
        inputs = inputs.masked_fill(~real, 0.0)
        inputs = F.pad(inputs, (0, 0, 0, self.max_length - inputs.shape[1]))
        return inputs.transpose(1, 2), torch.full_like(lengths, inputs.shape[2])

    # gradient diagnostics (training/callbacks/gradients.py) watch the recurrent branch
    def request_hidden_states(self) -> None:
        self.recurrent.request_hidden_states()

    def take_hidden_states(self) -> HiddenStates:
        return self.recurrent.take_hidden_states()

    def step_lengths(self, lengths: torch.Tensor) -> torch.Tensor:
        """Recurrent steps per sequence: channels under shuffle, else chunks of the length."""
        if self.shuffle:
            return torch.full_like(lengths, self.fcn.input_dim)
        return self.recurrent.step_lengths(lengths)
