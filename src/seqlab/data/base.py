"""What every seqlab data module shares: padded tensors, meta, loaders, exact DDP evaluation.

A data kind (time series, text, events) only reads its source and hands over padded splits
(data/padding.py); batching, trimming and the samplers (plain, or length-bucketed with
`bucketing=True`) live here once. With `in_memory` (and no worker processes) the batches are
cut from the splits held on the training device (data/in_memory.py), in the order the same
samplers give; otherwise a DataLoader cuts them.
"""

import os
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, cast

import lightning as L
import torch
import torch.distributed as dist
from lightning.pytorch.overrides.distributed import UnrepeatedDistributedSamplerWrapper
from torch.utils.data import (
    DataLoader,
    DistributedSampler,
    RandomSampler,
    Sampler,
    SequentialSampler,
)

from seqlab.data.batch import Batch, SequenceDataset, collate_batch
from seqlab.data.bucketing import BucketBatchSampler
from seqlab.data.in_memory import DeviceBatches
from seqlab.data.meta import DataMeta
from seqlab.models.tasks import TaskName

if TYPE_CHECKING:
    pass

# The datasets hand over whole batches (SequenceDataset.__getitems__), so collate_fn receives a
# Batch where torch's annotation says a list of samples.
_COLLATE = cast(Callable[[list[Any]], Any], collate_batch)


class SequenceDataModule(L.LightningDataModule):
    """Subclasses implement `build_splits` and return train, val and test datasets plus meta."""

    # What the labels can be (task.name): per sequence, and for some kinds per step (tag).
    tasks: tuple[TaskName, ...] = (TaskName.classify,)
    task: TaskName = TaskName.classify  # set by build_datamodule

    def __init__(
        self,
        batch_size: int,
        num_workers: int,
        bucketing: bool = False,
        bucket_batches: int = 50,
        seed: int = 0,
        in_memory: bool = True,
    ):
        super().__init__()
        self.batch_size = batch_size
        self.num_workers = num_workers
        # Batches cut from the splits held on the training device, without a DataLoader
        # (data/in_memory.py); worker processes (num_workers > 0) need a DataLoader.
        self.in_memory = in_memory
        # Where the in-memory splits live when no Trainer is attached (a hand-written loop);
        # with a Trainer, its device.
        self.device: torch.device | None = None
        self._device_splits: dict[tuple[str, str], SequenceDataset] = {}
        # Length-bucketed batches (data/bucketing.py) for data whose lengths vary a lot; the
        # seed fixes their order, epoch by epoch, the same on every rank.
        self.bucketing, self.bucket_batches, self.seed = bucketing, bucket_batches, seed
        self.splits: dict[str, SequenceDataset] | None = None
        self._meta: DataMeta | None = None

    def build_splits(self) -> tuple[dict[str, SequenceDataset], DataMeta]:
        raise NotImplementedError

    def setup(self, stage: str | None = None) -> None:
        # Lightning calls setup once per stage; the splits are read and fitted only once.
        if self.splits is None:
            self.splits, self._meta = self.build_splits()

    @property
    def meta(self) -> DataMeta:
        if self._meta is None:
            raise RuntimeError("call setup() before reading meta")
        return self._meta

    @property
    def protocol(self) -> str:
        """How the training data picks the tested model (data/ucr/config.py Protocol); the
        other kinds hold out a validation split."""
        return "val_split"

    @property
    def has_validation(self) -> bool:
        assert self.splits is not None, "call setup() first"
        return "val" in self.splits

    def fold(self, index: int) -> "SequenceDataModule":
        """protocol=cv_epochs: a data module whose validation part is fold `index` of TRAIN."""
        raise NotImplementedError(f"{type(self).__name__} has no cross-validation folds")

    def fitted_state(self) -> dict[str, Any]:
        """Everything fitted on the training part (scaler statistics, tokeniser, id maps) as
        plain lists, strings and numbers: stored in the checkpoint so that prediction needs no
        training file. Called after setup."""
        return {}

    def sample_texts(self, split: str) -> list[str] | None:
        """Text data: the split's raw texts, in dataset order (shown in prediction tables)."""
        return None

    def train_dataloader(self) -> Iterable[Batch]:
        return self._loader("train", shuffle=True)

    def val_dataloader(self) -> Iterable[Batch]:
        # a protocol without a validation part (data/ucr/config.py) validates nothing
        return self._loader("val", shuffle=False) if self.has_validation else []

    def test_dataloader(self) -> Iterable[Batch]:
        return self._loader("test", shuffle=False)

    def _loader(self, split: str, shuffle: bool) -> Iterable[Batch]:
        assert self.splits is not None  # Lightning calls setup() before asking for loaders
        dataset = self.splits[split]
        trainer = getattr(self, "trainer", None)
        # Lightning's overfit_batches swaps a loader's sampler, which it can only do in a
        # DataLoader.
        overfitting = trainer is not None and bool(trainer.overfit_batches)
        if self.in_memory and self.num_workers == 0 and not overfitting:
            return DeviceBatches(self._on_device(split), *self._sampler(dataset, shuffle))
        if self.bucketing or not shuffle:
            sampler, batch_size = self._sampler(dataset, shuffle)
            return self._data_loader(dataset, batch_size, sampler=sampler)
        # Under DDP, Lightning replaces a shuffling loader's sampler with its own.
        return self._data_loader(dataset, self.batch_size, shuffle=True)

    def _sampler(self, dataset: SequenceDataset, shuffle: bool) -> tuple[Sampler, int | None]:
        """The order of the samples, and the batch size to group them by (None: the sampler
        yields whole batches)."""
        distributed = dist.is_available() and dist.is_initialized()
        if self.bucketing:
            # Batches of similar lengths; each rank gets its own disjoint share (also for
            # evaluation, where every sample is seen exactly once).
            bucketed = BucketBatchSampler(
                dataset.lengths,
                batch_size=self.batch_size,
                shuffle=shuffle,
                seed=self.seed,
                bucket_batches=self.bucket_batches,
                num_replicas=dist.get_world_size() if distributed else 1,
                rank=dist.get_rank() if distributed else 0,
            )
            return bucketed, None
        if shuffle and distributed:
            # What Lightning puts into a shuffling DataLoader under DDP (seeded by
            # seed_everything; it calls set_epoch every epoch, on DeviceBatches too).
            return DistributedSampler(
                dataset, shuffle=True, seed=int(os.environ.get("PL_GLOBAL_SEED", 0))
            ), self.batch_size
        if shuffle:
            return RandomSampler(dataset), self.batch_size
        if distributed:
            # Lightning's default DistributedSampler pads the last rank with repeated samples,
            # which skews every metric; this one gives each sample to exactly one rank.
            sequential = SequentialSampler(dataset)
            return UnrepeatedDistributedSamplerWrapper(sequential, shuffle=False), self.batch_size
        return SequentialSampler(dataset), self.batch_size

    def _data_loader(
        self,
        dataset: SequenceDataset,
        batch_size: int | None,
        sampler: Sampler | None = None,
        shuffle: bool = False,
    ) -> DataLoader:
        return DataLoader(
            dataset,
            batch_size=batch_size,
            shuffle=shuffle,
            sampler=sampler,
            collate_fn=_COLLATE,
            num_workers=self.num_workers,
            persistent_workers=self.num_workers > 0,
        )

    def _on_device(self, split: str) -> SequenceDataset:
        """The split on the device the trainer trains on (this process's GPU under DDP), moved
        there once."""
        assert self.splits is not None
        trainer = getattr(self, "trainer", None)
        if trainer is not None:
            device = trainer.strategy.root_device
        else:
            device = self.device or torch.device("cpu")
        key = (split, str(device))
        if key not in self._device_splits:
            self._device_splits[key] = self.splits[split].to(device)
        return self._device_splits[key]
