"""What a finished run hands on: its metrics (metrics.json, written once, on rank 0) and, for an
ensemble, the module and data its predictions are read from."""

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from seqlab.console import print_metrics_table
from seqlab.files import write_text_atomic
from seqlab.layout import METRICS_FILE

if TYPE_CHECKING:  # seqlab-predict writes metrics.json without importing Lightning
    import lightning as L

    from seqlab.data.base import SequenceDataModule
    from seqlab.models.classifier import SequenceClassifier


@dataclass
class Fitted:
    """A finished training run: its metrics, and what an ensemble reads its predictions from
    (the module holds the tested checkpoint's weights)."""

    metrics: dict[str, float]
    module: "SequenceClassifier"
    datamodule: "SequenceDataModule"
    protocol: str


def floats(values: Mapping[str, Any]) -> dict[str, float]:
    return {name: float(value) for name, value in sorted(values.items())}


def write_rank_zero_metrics(
    run_dir: Path,
    metrics: dict[str, float],
    trainer: "L.Trainer",
    extra: Mapping[str, float | str] | None = None,
) -> None:
    """metrics.json: the metrics, and `extra` (how the run was done, such as its protocol)."""
    if trainer.is_global_zero:
        write_metrics(run_dir, {**metrics, **(extra or {})})


def write_metrics(run_dir: Path, metrics: Mapping[str, float | str]) -> None:
    """metrics.json, and the table of it printed; call on rank 0 only."""
    write_text_atomic(run_dir / METRICS_FILE, json.dumps(metrics, indent=2) + "\n")
    print_metrics_table(metrics, title=f"{run_dir / METRICS_FILE}")
