"""Shared fixtures: composed configs, tiny UCR files, the shared datasets, isolated W&B dirs."""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hydra import compose, initialize_config_dir

from seqlab import config_dir
from seqlab.config import (
    EvalConfig,
    LoggerConfig,
    PathsConfig,
    TrainConfig,
    WandbConfig,
    validate,
)
from seqlab.metrics.scores import METRIC_NAMES

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATASETS = REPO_ROOT.parent / "shared" / "datasets"


@pytest.fixture(autouse=True)
def isolated_wandb(tmp_path_factory, monkeypatch):
    """W&B stages files under the user's home unless told otherwise; keep each test's apart."""
    wandb_home = tmp_path_factory.mktemp("wandb_home")
    for name in WANDB_DIRS:
        monkeypatch.setenv(name, str(wandb_home))
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_SILENT", "true")


def compose_train(overrides: list[str], output_dir: Path | None = None) -> TrainConfig:
    """The validated train config that `seqlab-train <overrides>` would run."""
    with initialize_config_dir(config_dir=config_dir(), version_base="1.3"):
        cfg = compose(
            "train", overrides=[*overrides, f"paths.output_dir={output_dir or '/nonexistent'}"]
        )
    return validate(cfg, TrainConfig)


def quick_overrides(*extra: str) -> list[str]:
    """A training short enough for tests: a few epochs, no W&B, no progress bar. On the default
    data (UCR) with the fixed validation split, which the tests of validation, best checkpoints
    and val/*_best read (test_protocols.py tests the other protocols)."""
    chosen = any(e.startswith(("data=", "data.protocol=")) for e in extra)
    return [
        "trainer.max_epochs=3",
        "logger.wandb.enabled=false",
        "print_config=false",
        "callbacks.progress_bar=false",
        "print_parameters=false",
        *([] if chosen else ["data.protocol=val_split"]),
        *extra,
    ]


WANDB_DIRS = ("WANDB_DIR", "WANDB_DATA_DIR", "WANDB_CACHE_DIR", "WANDB_CONFIG_DIR")


def wandb_env(folder: Path) -> dict[str, str]:
    """Environment that keeps a subprocess's W&B files (staging, cache, settings) in folder."""
    return {name: str(folder) for name in WANDB_DIRS}


def subprocess_env(extra: dict | None = None) -> dict[str, str]:
    """This environment for a command, without the W&B service token that in-process tests
    leave behind: a child would attach to that shared service, as a user's shell never does
    (and a killed child's open run would then block its own resume)."""
    environment = {k: v for k, v in os.environ.items() if k != "WANDB_SERVICE"}
    return {**environment, **(extra or {})}


# For tests that compare DDP output bytes with one process's: one thread a process, for the one
# process and for each DDP rank. The batches are the same either way, but a product split over
# another number of threads (two in one process, one per rank of two on two cores) may round a
# probability's last bit differently.
ONE_THREAD = {"OMP_NUM_THREADS": "1"}


# A recurrent run on a small memory task, quick to start, with epochs long enough (32 steps) for
# a signal to land inside one: the runs the preemption and run-lifecycle tests stop and resume.
SIGNAL_TINY = [
    "data=memory",
    "data.length=12",
    "data.num_train=256",
    "data.num_val=64",
    "data.num_test=64",
    "data.batch_size=8",
    "model=gru",
    "model.hidden_size=16",
    "trainer.max_epochs=6",
    "print_config=false",
    "callbacks.progress_bar=false",
    "print_parameters=false",
    "callbacks.gradients.enabled=false",
]


def run_cli(
    module: str, *args: str, cwd: Path = REPO_ROOT, timeout: int = 300, env: dict | None = None
) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", module, *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=subprocess_env(env),
    )


def small_recurrent(cell: str = "lstm", **changes) -> dict:
    """The model section of a small recurrent module (16 units, 8-wide embeddings) for tests
    that build modules directly."""
    return {
        "kind": "recurrent",
        "cell": cell,
        "hidden_size": 16,
        "num_layers": 1,
        "bidirectional": False,
        "dropout": 0.0,
        "pooling": "max",
        "single_bias": False,
        "embedding_dim": 8,
        "embedding_dropout": 0.0,
        "freeze_embeddings": False,
        **changes,
    }


def ucr_data(root, name="Toy", **options) -> dict:
    """A UCR data section over the `name` files in `root` (write_ucr writes them)."""
    return {"kind": "ucr", "name": name, "root": str(root), **options}


def fitted_datamodule(data: dict):
    """The data module of a data section, set up for fit (read, split, fitted on TRAIN)."""
    from seqlab.data.registry import build_datamodule

    module = build_datamodule(data)
    module.setup("fit")
    return module


def evaluate_cli(checkpoint: Path, out: Path, *overrides: str) -> dict:
    """seqlab-eval of a checkpoint into `out` (CSV logger); its metrics.json."""
    import json

    result = run_cli(
        "seqlab.cli.evaluate",
        f"ckpt_path={checkpoint}",
        "logger=csv",
        f"hydra.run.dir={out}",
        *overrides,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads((out / "metrics.json").read_text())


def start_train(
    *overrides: str, capture: bool = False, env: dict | None = None
) -> subprocess.Popen:
    """seqlab-train in a session of its own, so that a SIGKILL to its process group takes its
    children (the W&B service) too; output discarded unless `capture` (text pipes)."""
    output = subprocess.PIPE if capture else subprocess.DEVNULL
    return subprocess.Popen(
        [sys.executable, "-m", "seqlab.cli.train", *overrides],
        cwd=REPO_ROOT,
        stdout=output,
        stderr=output,
        text=True,
        start_new_session=True,
        env=subprocess_env(env),
    )


@pytest.fixture
def shared_datasets() -> Path:
    if not SHARED_DATASETS.is_dir():
        pytest.skip(f"{SHARED_DATASETS} is absent (it is beside the checkout in CI only)")
    return SHARED_DATASETS


@pytest.fixture
def no_embedded_packages(tmp_path, monkeypatch):
    """A venv whose data shelf is empty and whose site-packages lack the data wheels."""
    from importlib import metadata

    from seqlab.data import embedded

    def absent(name):
        raise metadata.PackageNotFoundError(name)

    monkeypatch.setattr(embedded, "shelf", lambda: tmp_path / "empty-shelf")
    monkeypatch.setattr(metadata, "distribution", absent)


@pytest.fixture
def write_ucr(tmp_path):
    """Write a <name>_TRAIN / <name>_TEST pair in UCR 2015 text format and return the folder."""

    def write(train_rows: list[str], test_rows: list[str], name: str = "Toy") -> Path:
        (tmp_path / f"{name}_TRAIN").write_text("\n".join(train_rows) + "\n")
        (tmp_path / f"{name}_TEST").write_text("\n".join(test_rows) + "\n")
        return tmp_path

    return write


def synthetic_events(entities: int = 120, seed: int = 0) -> "pd.DataFrame":  # noqa: F821
    """A small purchase log around the cutoff 2020-04-01: entities that buy often and recently
    before it tend to buy again after it, so a model has something real to learn."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    rows = []
    start = pd.Timestamp("2020-01-01")
    for entity in range(entities):
        loyal = rng.random() < 0.4
        before = rng.integers(3, 9) if loyal else rng.integers(1, 4)
        days = np.sort(rng.choice(np.arange(0, 91), size=before, replace=False))
        after = rng.integers(1, 4) if loyal or rng.random() < 0.15 else 0
        days = np.concatenate([days, np.sort(rng.integers(91, 180, size=after))])
        for day in days:
            rows.append(
                {
                    "customer": f"c{entity:04d}",
                    "ts": (
                        start + pd.Timedelta(days=int(day), hours=int(rng.integers(0, 24)))
                    ).strftime("%Y-%m-%d %H:%M:%S"),
                    "event": rng.choice(
                        ["view", "cart", "buy"] if loyal else ["view", "view", "cart"]
                    ),
                    "item": f"i{rng.integers(0, 30)}",
                    "amount": round(float(rng.gamma(2.0, 10.0)), 2),
                }
            )
    return pd.DataFrame(rows)


def events_config(path, **changes) -> dict:
    """The data section of a run on a synthetic event log (see synthetic_events)."""
    config = {
        "kind": "events",
        "name": "synthetic",
        "path": None if path is None else str(path),
        "format": "auto",
        "columns": {
            "entity": "customer",
            "time": "ts",
            "categorical": ["event", "item"],
            "numeric": ["amount"],
        },
        "time_format": "auto",
        "time_unit": "D",
        "duplicates": "error",
        "cutoff": {"time": "2020-04-01", "events": None},
        "label": {"min_events": 1, "window": None},
        "max_length": 6,
        "min_count": 2,
        "numeric_transform": "log1p",
        "time_features": ["gap", "age"],
        "top_categories": 3,
        "val_fraction": 0.2,
        "test_fraction": 0.2,
        "batch_size": 16,
        "num_workers": 0,
        "split_seed": 0,
    }
    return {**config, **changes}


@pytest.fixture
def event_log(tmp_path) -> Path:
    path = tmp_path / "events.csv"
    synthetic_events().to_csv(path, index=False)
    return path


# Shared by several test files: configs on disk, the optimiser settings of tiny models, the keys
# of metrics.json, a toy text corpus.
DATA_CONFIGS = sorted(p.stem for p in (Path(config_dir()) / "data").glob("*.yaml"))
MODEL_CONFIGS = sorted(p.stem for p in (Path(config_dir()) / "model").glob("[!_]*.yaml"))
EXPERIMENTS = sorted(p.stem for p in (Path(config_dir()) / "experiment").glob("*.yaml"))


OPTIM = {
    "name": "adamw",
    "lr": 1e-3,
    "weight_decay": 0.0,
    "momentum": 0.9,
    "scheduler": "none",
    "class_weights": None,
}


EXPECTED_KEYS = {f"test/{m}" for m in (*METRIC_NAMES, "loss")} | {
    f"val/{m}_best" for m in (*METRIC_NAMES, "loss")
}


def eval_config(ckpt_path, output_dir, **changes) -> EvalConfig:
    """seqlab-eval's config of a checkpoint: test split, one CPU, no loggers."""
    return EvalConfig(
        ckpt_path=str(ckpt_path),
        trainer={"accelerator": "cpu", "devices": 1},
        logger=LoggerConfig(csv=False, wandb=WandbConfig(enabled=False)),
        paths=PathsConfig(output_dir=str(output_dir)),
        **changes,
    )


def corpus(count: int = 60, seed: int = 0) -> list[tuple[str, str]]:
    """(label, text) pairs: 'good' texts use one vocabulary, 'bad' texts another."""
    rng = np.random.default_rng(seed)
    words = {"good": ["great", "fine", "lovely", "superb"], "bad": ["awful", "poor", "dull"]}
    rows = []
    for i in range(count):
        label = ("good", "bad")[i % 2]
        length = int(rng.integers(2, 12))
        rows.append((label, " ".join(rng.choice(words[label] + ["the", "film"], size=length))))
    return rows


def write_lines(path, rows, separator=" "):
    path.write_text("".join(f"{label}{separator}{text}\n" for label, text in rows))
    return path


@pytest.fixture
def restore_hub_switches(monkeypatch):
    """The hub switches are process-wide; put them back after the test."""
    import datasets
    from huggingface_hub import constants

    for name in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(datasets.config, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(datasets.config, "HF_DATASETS_OFFLINE", False)
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)


def wandb_inspect(run_dir: Path, *flags: str) -> str:
    """The run dir's offline W&B run read back with W&B's own CLI (`wandb leet inspect`)."""
    (offline_run,) = (run_dir / "wandb").glob("offline-run-*")
    result = subprocess.run(
        [str(Path(sys.executable).parent / "wandb"), "leet", "inspect", *flags, "--json"]
        + [str(offline_run)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout
