"""The workloads the benchmarks run, one entry each.

A workload is the Hydra overrides of a seqlab-train run, plus (optionally) a function that
writes its data into a temporary folder first and returns overrides pointing at it. The overhead
and throughput benchmarks loop over WORKLOADS, so a new data kind or experiment is one entry.

Short epochs (parity, GunPoint: tens of milliseconds) measure seqlab's fixed cost per epoch
against an absolute budget; the shipped R8 and CDNOW experiments have epochs of seconds, where
the target is a ratio (at most 1.05), so they run few epochs.
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np


@dataclass(frozen=True)
class Workload:
    name: str
    overrides: list[str]
    epochs: int  # per run; the first epoch is warm-up, the next ones are timed
    repeats: int  # runs per side, alternating seqlab / plain loop
    validation: bool = True  # False: the run has no validation loop (limit_val_batches=0)
    prepare: Callable[[Path], list[str]] | None = None
    note: str = ""
    extra: dict = field(default_factory=dict)


PARITY_CLASSES = 5
PARITY_TRAIN = 300  # sequences that train: 10 batches of 30
PARITY_LENGTH, PARITY_CHANNELS = 100, 10


def write_parity_files(folder: Path) -> list[str]:
    """Lightning's parity workload as UCR .ts files: 300 training sequences of length 100 with
    10 channels (plus a 20% validation part carved off by the data module, unused here: the
    workload has no validation loop), random values and 5 balanced classes."""
    rng = np.random.default_rng(0)
    total = PARITY_TRAIN * 5 // 4  # val_fraction=0.2 leaves exactly PARITY_TRAIN for training
    for split, count in (("TRAIN", total), ("TEST", 60)):
        values = rng.normal(size=(count, PARITY_CHANNELS, PARITY_LENGTH)).astype(np.float32)
        labels = np.arange(count) % PARITY_CLASSES
        header = [
            "@problemName Parity",
            "@timeStamps false",
            "@univariate false",
            f"@dimensions {PARITY_CHANNELS}",
            "@equalLength true",
            f"@seriesLength {PARITY_LENGTH}",
            "@classLabel true " + " ".join(str(c) for c in range(PARITY_CLASSES)),
            "@data",
        ]
        rows = [
            ":".join(",".join(f"{v:.5f}" for v in channel) for channel in series) + f":{label}"
            for series, label in zip(values, labels, strict=True)
        ]
        (folder / f"Parity_{split}.ts").write_text("\n".join(header + rows) + "\n")
    return [f"data.root={folder}", "data.name=Parity"]


WORKLOADS = [
    Workload(
        "parity",
        [
            "data=ucr",
            "data.normalize=none",
            "data.batch_size=30",
            "model=lstm",
            "model.hidden_size=20",
            "model.pooling=last",
            # No validation loop, as in Lightning's parity benchmark: the best checkpoint
            # follows the training F1 instead (still saved every epoch, like last.ckpt).
            "+trainer.limit_val_batches=0",
            "callbacks.checkpoint.monitor=train/f1",
            "callbacks.checkpoint.tie_breaker=train/loss",
        ],
        epochs=32,
        repeats=7,
        validation=False,
        prepare=write_parity_files,
        note="LSTM(10, 20) + Linear, 300 x 100 steps, batch 30, 10 batches an epoch",
    ),
    Workload(
        "gunpoint_lstm",
        ["experiment=gunpoint_lstm"],
        epochs=32,
        repeats=7,
        # The train_loss protocol of tiny UCR sets keeps no validation part (docs/timeseries.md).
        validation=False,
        note="experiment=gunpoint_lstm: 50 train (4 batches), no validation part, LSTM 64",
    ),
    Workload(
        "r8_bilstm",
        ["experiment=r8_bilstm"],
        # Whole epochs (155 batches, about 15 s on one thread): every side then trains on the
        # same documents each epoch. A cut epoch would give each side a different random share
        # of the length buckets, and long documents cost many times more than short ones.
        # Epoch 1 is timed; it holds two of the gradient diagnostics' step-by-step steps
        # (200 and 300), about the rate of a real run (one every 100 steps).
        epochs=3,
        repeats=3,
        note="experiment=r8_bilstm: BiLSTM 64 over word embeddings 128, batch 32, "
        "4,936 training documents (155 length-bucketed batches), 549 validation (18)",
    ),
    Workload(
        "cdnow_gru",
        ["experiment=cdnow_gru"],
        epochs=4,
        repeats=3,
        note="experiment=cdnow_gru: GRU over purchase histories, 16,498 customers "
        "(65 batches of 256), 3,536 validation (14 batches)",
    ),
]
