"""The one batch type every data kind produces, and the dataset that builds it.

Every sequence has float features and/or categorical ids (tokens, event types, items) per
step; a kind without one of them stores an empty last dimension, so models and collation never
branch on the data kind. Sequences are stored padded once; a batch is cut out with a single index
operation and trimmed to its own longest sequence, so nothing runs per sample in Python.
"""

from dataclasses import dataclass, fields

import torch
from torch.utils.data import Dataset

PAD_ID = 0  # categorical id 0 is padding in every column; real values start at 1
# Per-step labels (task=tag) of padded and censored steps: never counted in loss or metrics
# (torch's cross-entropy default ignore_index).
IGNORE_LABEL = -100


@dataclass
class Batch:
    """Padded float features (batch, time, features), categorical ids (batch, time, columns),
    the real length of each sequence, and the labels: one per sequence, or (task=tag) one per
    step, (batch, time), IGNORE_LABEL where a step is padding or censored."""

    inputs: torch.Tensor
    categories: torch.Tensor
    lengths: torch.Tensor
    labels: torch.Tensor

    def __len__(self) -> int:
        return self.labels.shape[0]

    def to(self, device: torch.device | str, non_blocking: bool = False) -> "Batch":
        """The batch on `device`. Lightning moves an object that has `to` in one call; a plain
        dataclass it would deep-copy and walk field by field on every step."""
        moved = {
            f.name: getattr(self, f.name).to(device, non_blocking=non_blocking)
            for f in fields(self)
        }
        return Batch(**moved)


class SequenceDataset(Dataset):
    """Padded sequences with lengths and labels; the DataLoader fetches whole batches at once."""

    def __init__(
        self,
        inputs: torch.Tensor | None,
        categories: torch.Tensor | None,
        lengths: torch.Tensor,
        labels: torch.Tensor,
    ):
        count, steps = len(lengths), int(lengths.max()) if len(lengths) else 0
        if inputs is None:
            inputs = torch.zeros(count, steps, 0)
        if categories is None:
            categories = torch.zeros(count, inputs.shape[1], 0, dtype=torch.long)
        if not (len(inputs) == len(categories) == count == len(labels)):
            raise ValueError("inputs, categories, lengths and labels need the same first dimension")
        self.inputs, self.categories = inputs, categories
        self.lengths, self.labels = lengths, labels

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, index: int | list[int]) -> Batch:
        # A sampler that yields whole batches (data/bucketing.py, with batch_size=None) hands
        # over a list of indices.
        return self.__getitems__(index if isinstance(index, list) else [index])

    def __getitems__(self, indices: list[int]) -> Batch:
        # torch's DataLoader calls this with the sampler's whole batch of indices.
        index = torch.as_tensor(indices, dtype=torch.long)
        return self.batch(index, int(self.lengths[index].max()))

    def batch(self, index: torch.Tensor, longest: int) -> Batch:
        """The samples at `index` (on this dataset's device), trimmed to `longest` steps."""
        return Batch(
            self.inputs[index, :longest],
            self.categories[index, :longest],
            self.lengths[index],
            self.labels[index, :longest] if self.labels.dim() == 2 else self.labels[index],
        )

    def to(self, device: torch.device | str) -> "SequenceDataset":
        """The same samples with every tensor on `device`."""
        return SequenceDataset(
            self.inputs.to(device),
            self.categories.to(device),
            self.lengths.to(device),
            self.labels.to(device),
        )


def collate_batch(batch: Batch) -> Batch:
    """The dataset already returns a whole batch; nothing is left to collate."""
    return batch
