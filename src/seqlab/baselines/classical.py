"""Classical baselines on aggregate features of the same event history, scored like the networks.

Each baseline sees the same entities, splits and history as the sequence models (the event data
module's `aggregate_splits`, or with task=tag its `step_splits`: the same labelled steps), is
fitted on the training part only, and is scored on validation and test with seqlab's own
metric collection on its predicted probabilities, so its numbers are the networks' numbers.
Every baseline writes `<run_dir>/<name>-seed<seed>/metrics.json` and its own W&B run (job_type
`baseline`, the experiment's group).
"""

import json
from pathlib import Path
from typing import Any

import numpy as np
import torch
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import log_loss
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer, StandardScaler
from sklearn.tree import DecisionTreeClassifier

from seqlab.config import BaselinesConfig
from seqlab.console import print_metrics_table
from seqlab.data.events.datamodule import EventDataModule
from seqlab.data.events.features import signed_log1p
from seqlab.data.registry import build_datamodule
from seqlab.errors import SeqlabError
from seqlab.files import write_text_atomic
from seqlab.layout import METRICS_FILE
from seqlab.metrics.state import SplitMetrics
from seqlab.models.tasks import TASKS
from seqlab.schema import plain
from seqlab.training.loggers import build_loggers, finish_wandb

BASELINES = ("logreg", "tree", "gboost")


def build_baseline(name: str, options: Any, seed: int) -> Any:
    """The scikit-learn estimator of baseline `name` with its options (the dataclass of
    baselines.<name>)."""
    if name == "logreg":
        # Scaled inside the pipeline, so the scaler is fitted on the training part only.
        return make_pipeline(
            FunctionTransformer(signed_log1p),
            StandardScaler(),
            LogisticRegression(C=options.C, max_iter=options.max_iter),
        )
    if name == "tree":
        return DecisionTreeClassifier(
            max_depth=options.max_depth,
            min_samples_leaf=options.min_samples_leaf,
            random_state=seed,
        )
    if name == "gboost":
        return HistGradientBoostingClassifier(
            max_iter=options.max_iter,
            learning_rate=options.learning_rate,
            max_leaf_nodes=options.max_leaf_nodes,
            min_samples_leaf=options.min_samples_leaf,
            early_stopping=False,
            random_state=seed,
        )
    raise SeqlabError(f"baselines.models: unknown baseline {name!r}; use some of {BASELINES}")


def score(probabilities: np.ndarray, labels: np.ndarray, average: str, split: str) -> dict:
    """seqlab's five metrics plus cross-entropy, under the networks' names (`test/auroc`, ...)."""
    metrics = SplitMetrics(probabilities.shape[1], average, prefix=f"{split}/")
    metrics.update(
        torch.as_tensor(probabilities, dtype=torch.float32),
        torch.as_tensor(labels, dtype=torch.long),
    )
    values = {name: float(value) for name, value in metrics.compute().items()}
    values[f"{split}/loss"] = float(log_loss(labels, probabilities, labels=[0, 1]))
    return values


def run_baselines(config: BaselinesConfig) -> dict[str, dict[str, float]]:
    """Fit and score every configured baseline; returns {name: metrics}."""
    run_dir = Path(config.paths.output_dir)
    task = config.task.name
    datamodule = build_datamodule(config.data, task)
    if not isinstance(datamodule, EventDataModule):
        raise SeqlabError(
            f"baselines need event data (data=events, cdnow or yoochoose), not "
            f"data.kind={config.data.kind!r}"
        )
    # task=tag: one row of running aggregates per labelled step (data/events/tags.py)
    parts = datamodule.step_splits() if TASKS[task].per_step else datamodule.aggregate_splits()
    train_x, train_y = parts["train"]
    results: dict[str, dict[str, float]] = {}
    for name in config.baselines.models:
        model = build_baseline(name, getattr(config.baselines, name), config.seed)
        model.fit(train_x.to_numpy(), train_y)
        metrics: dict[str, float] = {}
        for split in ("val", "test"):
            features, labels = parts[split]
            probabilities = model.predict_proba(features.to_numpy())
            metrics |= score(probabilities, labels, config.metrics.average, split)
        metrics = dict(sorted(metrics.items()))
        _record(run_dir / f"{name}-seed{config.seed}", metrics, config, name)
        results[str(name)] = metrics
    run_dir.mkdir(parents=True, exist_ok=True)
    write_text_atomic(run_dir / METRICS_FILE, json.dumps(results, indent=2) + "\n")
    return results


def _record(
    model_dir: Path, metrics: dict[str, float], config: BaselinesConfig, baseline: str
) -> None:
    model_dir.mkdir(parents=True, exist_ok=True)
    write_text_atomic(model_dir / METRICS_FILE, json.dumps(metrics, indent=2) + "\n")
    try:
        logged = {**plain(config), "baseline": baseline}
        for logger in build_loggers(config.logger, model_dir, logged):
            logger.log_metrics(metrics, step=0)
            logger.finalize("success")
    finally:
        finish_wandb()
    print_metrics_table(metrics, title=f"{baseline}: {model_dir / METRICS_FILE}")
