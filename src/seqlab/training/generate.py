"""task=generate after the test: sampled customer futures against BG/NBD.

For every test entity the trained decoder draws `task.samples` futures of the generated weeks
from its conditioning weeks (batched over entities and samples); their mean is the expected
count, and the share of futures with a purchase is the probability of "buys at least once".
BG/NBD is fitted on the same conditioning weeks (all entities' calibration summaries: no
future week reaches it) and predicts the same entities. Both are scored on the test entities.
"""

from pathlib import Path
from typing import Any

import numpy as np
import torch
from lightning.pytorch.loggers import Logger

from seqlab.baselines.bgnbd import expected_weekly, fit_bgnbd
from seqlab.data.events.futures import WeeklyCounts
from seqlab.errors import SeqlabError
from seqlab.metrics import build_metrics, metric_inputs
from seqlab.models.generator import SequenceGenerator
from seqlab.reports.futures import futures_curves, log_wandb_curves

ROWS = 65536  # decoder rows (entities x samples) per sampling call: bounds memory


def sample_futures(
    module: SequenceGenerator,
    history: torch.Tensor,
    weeks: int,
    task: dict[str, Any],
    seed: int,
) -> torch.Tensor:
    """(entities, samples, weeks) sampled counts, from one seeded stream."""
    module.eval()
    generator = torch.Generator(device=history.device).manual_seed(seed)
    chunk = max(1, ROWS // task["samples"])  # entities per call
    chunks = [
        module.sample(
            history[start : start + chunk],
            weeks,
            task["samples"],
            temperature=task["temperature"],
            greedy=task["greedy"],
            generator=generator,
        )
        for start in range(0, len(history), chunk)
    ]
    return torch.cat(chunks)


def futures_report(
    module: SequenceGenerator,
    weekly: WeeklyCounts,
    test_codes: np.ndarray,
    config: dict[str, Any],
    run_dir: Path,
    loggers: list[Logger],
) -> dict[str, float]:
    """The metrics.json entries of a generate run; the curves as PNGs and W&B charts."""
    history_weeks = weekly.history_weeks
    counts = weekly.counts[test_codes]
    weeks = counts.shape[1] - history_weeks
    history = torch.from_numpy(counts[:, :history_weeks])
    with torch.no_grad():
        sampled = sample_futures(module.cpu(), history, weeks, config["task"], config["seed"])
    sampled_np = sampled.numpy().astype(np.float64)
    seqlab_weekly = sampled_np.mean(axis=1)  # (entities, weeks)
    buys = torch.from_numpy((sampled_np.sum(axis=2) > 0).mean(axis=1))

    model = fit_bgnbd(weekly.frequency, weekly.recency, weekly.age)
    bgnbd_weekly = expected_weekly(
        model,
        weekly.frequency[test_codes],
        weekly.recency[test_codes],
        weekly.age[test_codes],
        weeks,
    )
    actual = counts[:, history_weeks:].astype(np.float64)
    # every entity, as BG/NBD is usually reported (CDNOW: Fader, Hardie and Lee's figures)
    everyone = expected_weekly(model, weekly.frequency, weekly.recency, weekly.age, weeks)
    metrics = {
        **_count_errors("futures", seqlab_weekly, actual),
        **_count_errors("bgnbd", bgnbd_weekly, actual),
        **_count_errors("bgnbd_all", everyone, weekly.counts[:, history_weeks:]),
        **{f"bgnbd/{name}": value for name, value in model.params.items()},
        **_buyer_metrics(buys, actual.sum(axis=1) > 0, config["metrics"]["average"]),
    }
    figures = futures_curves(counts, seqlab_weekly, bgnbd_weekly, history_weeks, run_dir)
    log_wandb_curves(loggers, counts, seqlab_weekly, bgnbd_weekly, history_weeks, figures)
    return metrics


def _count_errors(prefix: str, predicted: np.ndarray, actual: np.ndarray) -> dict[str, float]:
    """Aggregate error of the total (percent of the actual total) and per-entity MAE."""
    total, truth = predicted.sum(), actual.sum()
    return {
        f"{prefix}/aggregate_error_pct": float(100.0 * (total - truth) / truth),
        f"{prefix}/mae": float(np.abs(predicted.sum(axis=1) - actual.sum(axis=1)).mean()),
        f"{prefix}/predicted": float(total),
        f"{prefix}/actual": float(truth),
    }


def _buyer_metrics(buys: torch.Tensor, bought: np.ndarray, average: str) -> dict[str, float]:
    """The five classification metrics of "buys at least once in the generated weeks"."""
    probabilities = torch.stack([1 - buys, buys], dim=1).float()
    metrics = build_metrics(2, average, prefix="test/")
    metrics.update(metric_inputs(probabilities, average), torch.from_numpy(bought).long())
    return {name: float(value) for name, value in metrics.compute().items()}


SAMPLES_FILE = "samples.csv"


def generate(config: dict[str, Any]) -> Path:
    """seqlab-generate: `n` sampled futures per entity of the checkpoint's data split, one row
    per entity and sample, one column per generated week, written atomically to samples.csv."""
    import pandas as pd

    from seqlab.data.registry import build_datamodule
    from seqlab.files import atomic_path
    from seqlab.models.classifier import read_checkpoint

    checkpoint = read_checkpoint(config["ckpt_path"])
    hparams = checkpoint["hyper_parameters"]
    task = hparams.get("task") or {"name": "classify"}
    if task["name"] != "generate":
        raise SeqlabError(
            f"{config['ckpt_path']}: a task={task['name']} checkpoint samples nothing; pass the "
            "checkpoint of a task=generate run (experiment=cdnow_futures_lstm)"
        )
    module = SequenceGenerator(**hparams)
    module.load_state_dict(checkpoint["state_dict"])
    datamodule = build_datamodule(hparams["data"], "generate")
    weekly = datamodule.weekly  # type: ignore[attr-defined]
    codes = datamodule.entity_splits[config["split"]]  # type: ignore[attr-defined]
    counts = weekly.counts[codes]
    history_weeks = weekly.history_weeks
    weeks = counts.shape[1] - history_weeks
    options = {"samples": config["n"], "temperature": config["temperature"]}
    sampled = sample_futures(
        module,
        torch.from_numpy(counts[:, :history_weeks]),
        weeks,
        {**options, "greedy": config["greedy"]},
        config["seed"],
    ).numpy()
    entities = datamodule.history.entities[codes]  # type: ignore[attr-defined]
    table = pd.DataFrame(
        sampled.reshape(-1, weeks),
        columns=[f"week_{history_weeks + 1 + w}" for w in range(weeks)],
    )
    table.insert(0, "sample", np.tile(np.arange(config["n"]), len(codes)))
    table.insert(0, "entity", np.repeat(entities, config["n"]))
    path = Path(config["paths"]["output_dir"]) / SAMPLES_FILE
    with atomic_path(path) as temporary:
        table.to_csv(temporary, index=False)
    return path
