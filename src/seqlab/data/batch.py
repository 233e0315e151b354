"""The one batch type every data kind produces, and the dataset that builds it.

Sequences are stored padded once, as one tensor; a batch is cut out of it with a single index
operation and trimmed to its own longest sequence, so nothing runs per sample in Python.
"""

from dataclasses import dataclass

import torch
from torch.utils.data import Dataset


@dataclass
class Batch:
    """Padded inputs of shape (batch, time, features), the real length of each, the labels."""

    inputs: torch.Tensor
    lengths: torch.Tensor
    labels: torch.Tensor

    def __len__(self) -> int:
        return self.labels.shape[0]


class SequenceDataset(Dataset):
    """Padded sequences with lengths and labels; the DataLoader fetches whole batches at once."""

    def __init__(self, inputs: torch.Tensor, lengths: torch.Tensor, labels: torch.Tensor):
        if not (len(inputs) == len(lengths) == len(labels)):
            raise ValueError("inputs, lengths and labels must have the same first dimension")
        self.inputs, self.lengths, self.labels = inputs, lengths, labels

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, index: int) -> Batch:
        return self.__getitems__([index])

    def __getitems__(self, indices: list[int]) -> Batch:
        # torch's DataLoader calls this with the sampler's whole batch of indices.
        index = torch.as_tensor(indices, dtype=torch.long)
        lengths = self.lengths[index]
        longest = int(lengths.max())
        return Batch(self.inputs[index, :longest], lengths, self.labels[index])


def collate_batch(batch: Batch) -> Batch:
    """The dataset already returns a whole batch; nothing is left to collate."""
    return batch
