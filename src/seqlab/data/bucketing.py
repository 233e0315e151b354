"""Length-bucketed batches: sequences of similar length share a batch, so little is padded.

Each epoch the indices are shuffled (seeded by seed + epoch), cut into pools of
`bucket_batches` batches, sorted by length inside each pool, cut into batches, and the batches
are shuffled again: batch contents stay random, only the lengths inside one batch are alike.
Without shuffling (validation, test) every index is sorted by length once.

Under DDP every rank builds the same list of batches and takes every `num_replicas`-th one, so
the ranks hold disjoint batches. For the same number of batches on every rank (a rank with one
batch fewer would hang the others at the gradient all-reduce) the largest batches are split in
two until the count divides evenly; no sample is repeated or dropped.
"""

import math
from collections.abc import Iterator
from typing import Any, cast

import torch
from torch.utils.data import Dataset, DistributedSampler

from seqlab.errors import SeqlabError


class BucketBatchSampler(DistributedSampler):
    """Yields lists of indices, one list per batch; use it as a DataLoader's `sampler` with
    `batch_size=None`.

    It subclasses DistributedSampler only so that Lightning leaves the loader alone under DDP
    (Lightning injects its own sampler into any loader whose sampler is not one); the sharding
    across ranks is done here.
    """

    def __init__(
        self,
        lengths: torch.Tensor,
        batch_size: int,
        shuffle: bool,
        seed: int = 0,
        bucket_batches: int = 50,
        num_replicas: int = 1,
        rank: int = 0,
    ):
        if batch_size < 1 or bucket_batches < 1:
            raise SeqlabError(
                f"batch_size={batch_size} and bucket_batches={bucket_batches} must be at least 1"
            )
        # DistributedSampler only takes len() of its dataset, which the lengths tensor gives
        super().__init__(
            cast("Dataset[Any]", lengths),
            num_replicas=num_replicas,
            rank=rank,
            shuffle=shuffle,
            seed=seed,
        )
        self.lengths = lengths.detach().cpu().long()
        self.batch_size, self.bucket_batches = batch_size, bucket_batches
        count = len(self.lengths)
        self.total_batches = math.ceil(math.ceil(count / batch_size) / num_replicas) * num_replicas
        if count < self.total_batches:
            raise SeqlabError(
                f"{count} samples cannot fill one batch on each of {num_replicas} processes; "
                "use fewer devices or more data"
            )

    def __len__(self) -> int:
        return self.total_batches // self.num_replicas

    def __iter__(self) -> Iterator[list[int]]:
        batches = self.all_batches()
        yield from batches[self.rank :: self.num_replicas]

    def all_batches(self) -> list[list[int]]:
        """Every rank's batches of this epoch, in order; rank r takes items r, r + R, ..."""
        generator = torch.Generator().manual_seed(self.seed + self.epoch)
        count = len(self.lengths)
        if self.shuffle:
            order = torch.randperm(count, generator=generator)
            pool_size = self.batch_size * self.bucket_batches
        else:
            order, pool_size = torch.arange(count), max(count, 1)
        batches: list[torch.Tensor] = []
        for pool in order.split(pool_size):
            # stable sort: equal lengths keep their (shuffled) order
            by_length = pool[torch.sort(self.lengths[pool], stable=True).indices]
            batches.extend(by_length.split(self.batch_size))
        if self.shuffle:
            batches = [batches[i] for i in torch.randperm(len(batches), generator=generator)]
        return [batch.tolist() for batch in _split_largest(batches, self.total_batches)]


def _split_largest(batches: list[torch.Tensor], wanted: int) -> list[torch.Tensor]:
    """Split the largest batches in two, in place in the order, until there are `wanted`."""
    batches = list(batches)
    while len(batches) < wanted:
        largest = max(range(len(batches)), key=lambda i: len(batches[i]))
        half = len(batches[largest]) // 2
        batch = batches[largest]
        batches[largest : largest + 1] = [batch[:half], batch[half:]]
    return batches
