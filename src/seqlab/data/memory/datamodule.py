"""Synthetic long-range memory tasks (`data=memory`): generated from the seed, no files.

- `adding`: the adding problem of Hochreiter & Schmidhuber (1997), in the form of Le et al.
  (2015): two float channels per step, a value drawn from U(0, 1) and a marker that is 1 at
  exactly two steps (one in each half of the sequence) and 0 elsewhere. The regression target, the
  sum of the two marked values, is cut into `num_classes` equally likely bins (2: is the sum above
  1?) so the usual classification metrics apply. `noise` is the standard deviation of Gaussian
  noise added to the value channel at unmarked steps (the label only depends on marked values).
- `first_symbol`: remember the first symbol (in the spirit of Bengio et al. 1994's latch
  problem): the first step holds one of `num_classes` symbols, the class; every later step is a
  blank, or with probability `noise` a random distractor symbol. Symbols arrive as categorical
  ids, so the model embeds them.

The information sits at the start (the adding problem's first marker is somewhere in the first
half) and the answer is read at the end, so the gradient has to cross up to T steps.
"""

import numpy as np
import torch

from seqlab.data.base import SequenceDataModule
from seqlab.data.batch import PAD_ID, SequenceDataset
from seqlab.data.memory.config import MemoryDataConfig
from seqlab.data.meta import DataMeta
from seqlab.errors import SeqlabError
from seqlab.layout import SPLITS

TASKS = ("adding", "first_symbol")
BLANK_ID = PAD_ID + 1  # first_symbol: ids BLANK_ID + 1 .. BLANK_ID + num_classes are symbols


class MemoryDataModule(SequenceDataModule):
    def __init__(self, config: MemoryDataConfig):
        super().__init__(batch_size=config.batch_size, num_workers=config.num_workers)
        sizes = (config.num_train, config.num_val, config.num_test)
        _check(config.task, config.length, config.noise, config.num_classes, sizes)
        self.config = config
        self.sizes = dict(zip(SPLITS, sizes, strict=True))

    def build_splits(self) -> tuple[dict[str, SequenceDataset], DataMeta]:
        generate = adding_problem if self.config.task == "adding" else first_symbol
        splits = {}
        for index, split in enumerate(SPLITS):
            # One independent stream per split: the test set never changes with num_train.
            rng = np.random.default_rng([self.config.seed, index])
            inputs, categories, labels = generate(
                rng,
                self.sizes[split],
                self.config.length,
                self.config.noise,
                self.config.num_classes,
            )
            lengths = torch.full((len(labels),), self.config.length, dtype=torch.long)
            splits[split] = SequenceDataset(
                _tensor(inputs), _tensor(categories), lengths, torch.from_numpy(labels)
            )
        if self.config.task == "adding":
            meta = DataMeta(
                num_features=2,
                num_classes=self.config.num_classes,
                class_names=tuple(f"sum_bin{i}" for i in range(self.config.num_classes)),
                max_length=self.config.length,
            )
        else:
            meta = DataMeta(
                num_features=0,
                num_classes=self.config.num_classes,
                class_names=tuple(f"symbol{i}" for i in range(self.config.num_classes)),
                max_length=self.config.length,
                category_sizes=(BLANK_ID + 1 + self.config.num_classes,),
                category_names=("symbol",),
            )
        return splits, meta


def adding_problem(
    rng: np.random.Generator, count: int, length: int, noise: float, num_classes: int
) -> tuple[np.ndarray, None, np.ndarray]:
    inputs, total = adding_sums(rng, count, length, noise)
    labels = np.searchsorted(sum_quantiles(num_classes), total, side="right")
    return inputs, None, labels.astype(np.int64)


def adding_sums(
    rng: np.random.Generator, count: int, length: int, noise: float
) -> tuple[np.ndarray, np.ndarray]:
    """(inputs, the regression targets: the sums of the two marked values)."""
    values = rng.uniform(0.0, 1.0, size=(count, length)).astype(np.float32)
    half = length // 2
    rows = np.arange(count)
    first = rng.integers(0, half, size=count)
    second = rng.integers(half, length, size=count)
    markers = np.zeros((count, length), dtype=np.float32)
    markers[rows, first] = markers[rows, second] = 1.0
    total = values[rows, first] + values[rows, second]
    if noise > 0:
        jitter = rng.normal(0.0, noise, size=values.shape).astype(np.float32)
        values = values + jitter * (1.0 - markers)
    return np.stack([values, markers], axis=-1), total


def adding_test_sums(config: MemoryDataConfig) -> np.ndarray:
    """The adding problem's regression targets of the test split, in its order."""
    rng = np.random.default_rng([config.seed, SPLITS.index("test")])
    return adding_sums(rng, config.num_test, config.length, config.noise)[1]


def bin_means(num_classes: int) -> np.ndarray:
    """E[sum | bin] of each sum bin (the triangular density on [0, 2], integrated on a fine
    grid): the regression estimate of a class is its bin's mean."""
    grid = np.linspace(0.0, 2.0, 400_001)
    density = np.minimum(grid, 2.0 - grid)
    bins = np.searchsorted(sum_quantiles(num_classes), grid, side="right")
    weight = np.bincount(bins, density, minlength=num_classes)
    return np.bincount(bins, grid * density, minlength=num_classes) / weight


def adding_mse(probabilities: np.ndarray, sums: np.ndarray) -> float:
    """Mean squared error of the expected sum under the class probabilities, sum_k p_k E[sum |
    bin k], against the true sums: 1/6 (0.167) for a model that always answers the mean 1.0,
    as a classifier at chance does."""
    estimate = probabilities @ bin_means(probabilities.shape[1])
    return float(np.mean((estimate - sums) ** 2))


def sum_quantiles(num_classes: int) -> np.ndarray:
    """Inner bin edges that make the sum of two U(0, 1) values (triangular on [0, 2]) fall into
    each of `num_classes` bins with equal probability: 2 classes -> [1.0]."""
    q = np.arange(1, num_classes) / num_classes
    return np.where(q <= 0.5, np.sqrt(2 * q), 2 - np.sqrt(2 * (1 - q)))


def first_symbol(
    rng: np.random.Generator, count: int, length: int, noise: float, num_classes: int
) -> tuple[None, np.ndarray, np.ndarray]:
    labels = rng.integers(0, num_classes, size=count)
    symbols = BLANK_ID + 1 + rng.integers(0, num_classes, size=(count, length))
    distract = rng.uniform(size=(count, length)) < noise
    ids = np.where(distract, symbols, BLANK_ID)
    ids[:, 0] = BLANK_ID + 1 + labels
    return None, ids[..., None].astype(np.int64), labels.astype(np.int64)


def _tensor(array: np.ndarray | None) -> torch.Tensor | None:
    return None if array is None else torch.from_numpy(array)


def _check(task: str, length: int, noise: float, num_classes: int, sizes: tuple) -> None:
    if task not in TASKS:
        raise SeqlabError(f"data.task={task!r} is unknown; use one of {list(TASKS)}")
    if length < 2:
        raise SeqlabError(
            f"data.length={length}: a memory task needs at least 2 steps (information early, "
            "answer at the end); set data.length=2 or more"
        )
    if num_classes < 2:
        raise SeqlabError(f"data.num_classes={num_classes}; a classifier needs 2 or more")
    if noise < 0 or (task == "first_symbol" and noise > 1):
        allowed = "a probability in [0, 1]" if task == "first_symbol" else "0 or more"
        raise SeqlabError(f"data.noise={noise}: for task={task} it must be {allowed}")
    if min(sizes) < 1:
        raise SeqlabError(
            f"data.num_train/num_val/num_test={list(sizes)}; each split needs 1 sample or more"
        )
