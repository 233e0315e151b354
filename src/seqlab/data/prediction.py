"""New inputs for a trained model: what every data kind hands over after reading a file with its
fitted preprocessing, and the loader that predicts each input exactly once under DDP.

Batches are cut once from the whole input, independently of the number of processes (sorted by
length, then `batch_size` at a time), and handed out whole, round robin: each input meets the
same neighbours whatever the world size, so one process and several give the same numbers.
Every batch carries the inputs' positions, so the results are put back in input order.
With task=tag the results are one row per real step of every input (`steps`), back to back.
"""

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, cast

import numpy as np
import pandas as pd
import torch
import torch.distributed as dist
from torch.utils.data import DataLoader, Dataset, DistributedSampler

from seqlab.data.batch import Batch, SequenceDataset
from seqlab.data.labels import label_name
from seqlab.errors import SeqlabError

NO_LABEL = -1  # the label of an input without one (never read: such inputs are predicted only)
# The first bytes of compressed files: read as text they would be predicted as garbage rows.
COMPRESSED = {
    b"\x1f\x8b": ("gzip", "gunzip"),
    b"BZh": ("bzip2", "bunzip2"),
    b"\xfd7zXZ\x00": ("xz", "unxz"),
    b"PK\x03\x04": ("zip", "unzip"),
    b"\x28\xb5\x2f\xfd": ("zstd", "unzstd"),
}


def refuse_unreadable_text(path: Path, file_format: str) -> None:
    """One line for a compressed or binary file given to a text reader (parquet is binary by
    design and left to its reader)."""
    if file_format == "parquet":
        return
    with open(path, "rb") as file:
        head = file.read(8192)
    for magic, (kind, command) in COMPRESSED.items():
        if head.startswith(magic):
            raise SeqlabError(
                f"{path}: a {kind}-compressed file; decompress it first ({command} {path.name}) "
                "and pass the result"
            )
    if b"\x00" in head:
        raise SeqlabError(
            f"{path}: a binary file (it holds NUL bytes), not text; pass a text file of the "
            f"format the model reads ({file_format})"
        )


@dataclass
class PredictionData:
    dataset: SequenceDataset  # one row per input, in input order
    ids: list[str]  # written as the `id` column
    labelled: bool  # True: dataset.labels holds class indices; False: NO_LABEL
    texts: list[str] | None = None  # text data: the raw texts
    # task=tag: one row per real step of every input, in order (columns written after `id`);
    # dataset.labels are then per step, IGNORE_LABEL where a step has none
    steps: pd.DataFrame | None = None


@dataclass
class IndexedBatch(Batch):
    index: torch.Tensor  # each row's position in the input

    def to(self, device: torch.device | str, non_blocking: bool = False) -> "IndexedBatch":
        moved = {
            f.name: getattr(self, f.name).to(device, non_blocking=non_blocking)
            for f in fields(self)
        }
        return IndexedBatch(**moved)


class IndexedDataset(Dataset):
    def __init__(self, dataset: SequenceDataset):
        self.dataset = dataset

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, indices: list[int]) -> IndexedBatch:
        batch = self.dataset.__getitems__(indices)
        index = torch.as_tensor(indices, dtype=torch.long)
        return IndexedBatch(batch.inputs, batch.categories, batch.lengths, batch.labels, index)


class PredictionSampler(DistributedSampler):
    """Whole batches of indices, batch r, r + R, ... to rank r (use with batch_size=None).

    A DistributedSampler subclass only so that Lightning leaves the loader alone under DDP."""

    def __init__(self, lengths: torch.Tensor, batch_size: int, num_replicas: int, rank: int):
        super().__init__(
            cast("Dataset[Any]", lengths), num_replicas=num_replicas, rank=rank, shuffle=False
        )
        if batch_size < 1:
            raise SeqlabError(f"batch_size={batch_size} must be at least 1")
        order = torch.sort(lengths.cpu(), stable=True).indices
        self.batches = [batch.tolist() for batch in order.split(batch_size)]
        if len(self.batches) < num_replicas:
            raise SeqlabError(
                f"{len(lengths)} input(s) in {len(self.batches)} batch(es) cannot give each of "
                f"{num_replicas} processes one; use fewer devices or a smaller batch_size"
            )

    def __len__(self) -> int:
        return len(self.batches[self.rank :: self.num_replicas])

    def __iter__(self) -> Iterator[list[int]]:
        yield from self.batches[self.rank :: self.num_replicas]


def prediction_loader(
    dataset: SequenceDataset, batch_size: int, num_workers: int = 0
) -> DataLoader:
    """The loader of trainer.test (labelled input), trainer.predict and seqlab's own loop: every
    rank its share of the whole batches (all of them without a process group)."""
    distributed = dist.is_available() and dist.is_initialized()
    sampler = PredictionSampler(
        dataset.lengths,
        batch_size,
        num_replicas=dist.get_world_size() if distributed else 1,
        rank=dist.get_rank() if distributed else 0,
    )
    return DataLoader(
        IndexedDataset(dataset),
        sampler=sampler,
        batch_size=None,  # the sampler yields whole batches
        collate_fn=cast(Callable[[list[Any]], Any], _whole_batch),
        num_workers=num_workers,
    )


def real_step_mask(lengths: torch.Tensor, steps: int) -> torch.Tensor:
    """(inputs, steps) True on each input's real steps, False on padding."""
    return torch.arange(steps, device=lengths.device)[None, :] < lengths[:, None]


def rows_of(
    index: torch.Tensor,
    lengths: torch.Tensor,
    probabilities: torch.Tensor,
    starts: torch.Tensor | None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """A batch's rows of the output and their positions: one per input (classify), or with
    `starts` (each input's first row; task=tag) one per real step of each input."""
    if starts is None:
        return index, probabilities
    real = real_step_mask(lengths, probabilities.shape[1])
    steps = torch.arange(probabilities.shape[1])
    return (starts[index][:, None] + steps[None, :])[real], probabilities[real]


def in_input_order(index: np.ndarray, values: np.ndarray) -> np.ndarray:
    """values (one row per predicted input) put at their inputs' positions; each exactly once."""
    if len(np.unique(index)) != len(index) or (len(index) and index.max() != len(index) - 1):
        raise RuntimeError("an input was predicted twice or not at all")
    ordered = np.empty_like(values)
    ordered[index] = values
    return ordered


def _whole_batch(batch: IndexedBatch) -> IndexedBatch:
    return batch


def label_indices(
    raw_labels: Sequence[str], class_names: Sequence[str], where: Callable[[int], str]
) -> np.ndarray:
    """Class indices of labels as the training files wrote them ("1", "1.0", "spam"), named the
    way training named its classes; a label the model never saw is an error at its row."""
    index = {name: i for i, name in enumerate(class_names)}
    result = np.empty(len(raw_labels), dtype=np.int64)
    for row, raw in enumerate(raw_labels):
        name = label_name(str(raw).strip())
        if name not in index:
            raise SeqlabError(
                f"{where(row)}: label {str(raw)!r} was never seen in training (classes: "
                f"{', '.join(class_names)}); fix or drop the row, or set reader.labels=false"
            )
        result[row] = index[name]
    return result


def no_labels(count: int) -> torch.Tensor:
    return torch.full((count,), NO_LABEL, dtype=torch.long)
