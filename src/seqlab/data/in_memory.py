"""Batches cut straight from tensors held on the training device, without a DataLoader.

Every split is already one padded tensor plus lengths (data/batch.py); a DataLoader adds, per
batch, its fetch machinery around the same index operation and, on a GPU, a copy from host
memory. Here the split is moved to the device once, and each batch is an index into it,
trimmed to its longest sequence (read from a copy of the lengths kept in host memory, so the
GPU is never waited on for it).

The batches are the DataLoader's: the same sampler objects give the same indices in the same
order (length buckets and DDP shards included). A DataLoader also draws one number from
torch's global generator each time an epoch's iteration starts (its workers' base seed, drawn
even without workers); this draws it too, so dropout and every later random number are the
same with or without the fast path.
"""

import math
from collections.abc import Iterator, Sized
from typing import Any

import torch

from seqlab.data.batch import Batch, SequenceDataset


class DeviceBatches:
    """An iterable of Batch over `dataset` (already on its device), in the order `sampler`
    gives: single indices grouped `batch_size` at a time, or (`batch_size=None`) whole lists of
    indices, as with a DataLoader. Lightning finds `sampler` here to set its epoch."""

    batch_sampler = None  # Lightning reads it as it would a DataLoader's (to tell shuffling)

    def __init__(self, dataset: SequenceDataset, sampler: Any, batch_size: int | None):
        self.dataset, self.sampler, self.batch_size = dataset, sampler, batch_size
        self.host_lengths = dataset.lengths.cpu()

    def __len__(self) -> int:
        count = len(self.sampler) if isinstance(self.sampler, Sized) else 0
        return count if self.batch_size is None else math.ceil(count / self.batch_size)

    def __iter__(self) -> Iterator[Batch]:
        # Nothing runs before the first batch is asked for: Lightning calls iter() once more
        # just to check that it can, and that must not draw a random number.
        torch.empty((), dtype=torch.int64).random_()  # the DataLoader's base-seed draw
        if self.batch_size is None:
            batches = [torch.as_tensor(indices, dtype=torch.long) for indices in self.sampler]
        else:
            order = torch.as_tensor(list(self.sampler), dtype=torch.long)
            batches = list(order.split(self.batch_size))
        device = self.dataset.lengths.device
        for index in batches:
            longest = int(self.host_lengths[index].max())
            yield self.dataset.batch(index.to(device, non_blocking=True), longest)
