"""What every seqlab data module shares: padded tensors, meta, loaders, exact DDP evaluation.

A data kind (time series, text, events) only reads its source and hands over padded splits
(data/padding.py); batching, trimming and the samplers (plain, or length-bucketed with
`bucketing=True`) live here once.
"""

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, cast

import lightning as L
import torch.distributed as dist
from lightning.pytorch.overrides.distributed import UnrepeatedDistributedSamplerWrapper
from torch.utils.data import DataLoader, SequentialSampler

from seqlab.data.batch import SequenceDataset, collate_batch
from seqlab.data.bucketing import BucketBatchSampler
from seqlab.data.meta import DataMeta

if TYPE_CHECKING:
    from seqlab.data.input_config import ReaderConfig
    from seqlab.data.prediction import PredictionData

# The datasets hand over whole batches (SequenceDataset.__getitems__), so collate_fn receives a
# Batch where torch's annotation says a list of samples.
_COLLATE = cast(Callable[[list[Any]], Any], collate_batch)


class SequenceDataModule(L.LightningDataModule):
    """Subclasses implement `build_splits` and return train, val and test datasets plus meta."""

    def __init__(
        self,
        batch_size: int,
        num_workers: int,
        bucketing: bool = False,
        bucket_batches: int = 50,
        seed: int = 0,
    ):
        super().__init__()
        self.batch_size = batch_size
        self.num_workers = num_workers
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

    def fitted_state(self) -> dict[str, Any]:
        """Everything fitted on the training part (scaler statistics, tokeniser, id maps) as
        plain lists, strings and numbers: stored in the checkpoint so that prediction needs no
        training file. Called after setup."""
        return {}

    def sample_texts(self, split: str) -> list[str] | None:
        """Text data: the split's raw texts, in dataset order (shown in prediction tables)."""
        return None

    def prediction_data(
        self, fitted: dict[str, Any], meta: DataMeta, source: str, reader: "ReaderConfig"
    ) -> "PredictionData":
        """A new input file (or `-`, standard input) read and preprocessed with `fitted`."""
        from seqlab.errors import SeqlabError

        raise SeqlabError(
            "this data kind generates its data, so there are no input files to predict on; "
            "seqlab-predict reads the files of ucr, text and events data"
        )

    def train_dataloader(self) -> DataLoader:
        return self._loader("train", shuffle=True)

    def val_dataloader(self) -> DataLoader:
        return self._loader("val", shuffle=False)

    def test_dataloader(self) -> DataLoader:
        return self._loader("test", shuffle=False)

    def _loader(self, split: str, shuffle: bool) -> DataLoader:
        assert self.splits is not None  # Lightning calls setup() before asking for loaders
        dataset = self.splits[split]
        if self.bucketing:
            return self._bucketed_loader(dataset, shuffle)
        sampler = None
        if not shuffle and dist.is_available() and dist.is_initialized():
            # Lightning's default DistributedSampler pads the last rank with repeated samples,
            # which skews every metric; this one gives each sample to exactly one rank.
            sampler = UnrepeatedDistributedSamplerWrapper(SequentialSampler(dataset), shuffle=False)
        return DataLoader(
            dataset,
            batch_size=self.batch_size,
            shuffle=shuffle if sampler is None else None,
            sampler=sampler,
            collate_fn=_COLLATE,
            num_workers=self.num_workers,
            persistent_workers=self.num_workers > 0,
        )

    def _bucketed_loader(self, dataset: SequenceDataset, shuffle: bool) -> DataLoader:
        """Batches of similar lengths; each rank gets its own disjoint share (also for
        evaluation, where every sample is seen exactly once)."""
        distributed = dist.is_available() and dist.is_initialized()
        sampler = BucketBatchSampler(
            dataset.lengths,
            batch_size=self.batch_size,
            shuffle=shuffle,
            seed=self.seed,
            bucket_batches=self.bucket_batches,
            num_replicas=dist.get_world_size() if distributed else 1,
            rank=dist.get_rank() if distributed else 0,
        )
        return DataLoader(
            dataset,
            sampler=sampler,
            batch_size=None,  # the sampler yields whole batches of indices
            collate_fn=_COLLATE,
            num_workers=self.num_workers,
            persistent_workers=self.num_workers > 0,
        )
