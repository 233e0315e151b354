"""Shared by every benchmark: thread count, isolated W&B dirs, composed configs, summaries.

Benchmarks measure and report; nothing here asserts on wall time.
"""

import os
import statistics
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from seqlab.config import TrainConfig


REPO_ROOT = Path(__file__).resolve().parents[1]
RESULTS_DIR = Path(__file__).parent / "results"
# The repository's src/ first, so a checkout benchmarks its own code (as PYTHONPATH=src does).
sys.path.insert(0, str(REPO_ROOT / "src"))


@dataclass(frozen=True)
class Target:
    """Where a benchmark trains: the device and Lightning's precision, as seqlab overrides."""

    device: str = "cpu"  # torch's name: cpu, cuda
    precision: str = "32-true"  # 32-true | bf16-mixed

    @property
    def accelerator(self) -> str:
        return "gpu" if self.device == "cuda" else "cpu"

    @property
    def overrides(self) -> list[str]:
        if self.device == "cpu" and self.precision == "32-true":
            return []  # the workloads as shipped
        trainer = ["trainer=gpu"] if self.device == "cuda" else []
        return [*trainer, f"trainer.precision={self.precision}"]


CPU = Target()


def pin_threads(threads: int) -> None:
    """Both sides of every comparison run on the same number of intra-op threads. One thread
    keeps a shared, loaded 2-core machine from adding scheduling noise to the ratios."""
    os.environ["OMP_NUM_THREADS"] = str(threads)
    os.environ["MKL_NUM_THREADS"] = str(threads)
    import torch

    torch.set_num_threads(threads)


def isolate_wandb(folder: Path) -> None:
    """Offline W&B staging in a throwaway folder, never the user's home."""
    for name in ("WANDB_DIR", "WANDB_DATA_DIR", "WANDB_CACHE_DIR", "WANDB_CONFIG_DIR"):
        os.environ[name] = str(folder)
    os.environ["WANDB_MODE"] = "offline"
    os.environ["WANDB_SILENT"] = "true"


def compose_train(overrides: list[str]) -> "TrainConfig":
    """The validated config `seqlab-train <overrides>` runs: Hydra's compose API + the schema."""
    from hydra import compose, initialize_config_dir

    from seqlab import config_dir
    from seqlab.config import TrainConfig, validate

    with initialize_config_dir(config_dir=config_dir(), version_base="1.3"):
        return validate(compose("train", overrides=overrides), TrainConfig)


def spread(values: list[float]) -> dict[str, float]:
    """Median and range of repeated measurements (the median is what tables quote)."""
    return {
        "median": statistics.median(values),
        "min": min(values),
        "max": max(values),
        "runs": list(values),
    }
