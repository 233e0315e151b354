"""task=generate after the test: sampled customer futures against BG/NBD.

For every test entity the trained decoder draws `task.samples` futures of the generated weeks
from its conditioning weeks (batched over entities and samples); their mean is the expected
count, and the share of futures with a purchase is the probability of "buys at least once".
BG/NBD is fitted on the same conditioning weeks (all entities' calibration summaries: no
future week reaches it) and predicts the same entities. Both are scored on the test entities.
"""

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from lightning.pytorch.loggers import Logger

from seqlab.baselines.bgnbd import expected_weekly, fit_bgnbd, sampled_totals
from seqlab.config import GenerateConfig, TaskConfig
from seqlab.data.events.futures import WeeklyCounts
from seqlab.metrics.state import SplitMetrics
from seqlab.models.generator import Futures, SequenceGenerator
from seqlab.models.tasks import TaskName
from seqlab.reports.futures import futures_curves, log_wandb_curves

ROWS = 65536  # decoder rows (entities x samples) per sampling call: bounds memory


def sample_futures(
    module: SequenceGenerator,
    history: torch.Tensor,
    weeks: int,
    task: TaskConfig,
    seed: int,
) -> torch.Tensor:
    """(entities, samples, weeks) sampled counts, from one seeded stream."""
    return torch.cat(_in_chunks(module, module.sample, history, weeks, task, seed))


def rollout_futures(
    module: SequenceGenerator,
    history: torch.Tensor,
    weeks: int,
    task: TaskConfig,
    seed: int,
) -> Futures:
    """The futures of `sample_futures` (the same draws) with their expectations."""
    parts: list[Futures] = _in_chunks(module, module.rollout, history, weeks, task, seed)
    return Futures(
        torch.cat([part.counts for part in parts]),
        torch.cat([part.expected for part in parts]),
        torch.cat([part.no_event for part in parts]),
    )


def _in_chunks(
    module: SequenceGenerator,
    method: Callable[..., Any],
    history: torch.Tensor,
    weeks: int,
    task: TaskConfig,
    seed: int,
) -> list[Any]:
    """`method` of `module` over the entities in calls of at most ROWS rows, one seeded
    stream through all of them."""
    module.eval()
    generator = torch.Generator(device=history.device).manual_seed(seed)
    chunk = max(1, ROWS // task.samples)  # entities per call
    return [
        method(
            history[start : start + chunk],
            weeks,
            task.samples,
            temperature=task.temperature,
            greedy=task.greedy,
            generator=generator,
        )
        for start in range(0, len(history), chunk)
    ]


def futures_report(
    module: SequenceGenerator,
    weekly: WeeklyCounts,
    test_codes: np.ndarray,
    task: TaskConfig,
    average: str,
    seed: int,
    run_dir: Path,
    loggers: list[Logger],
) -> dict[str, float]:
    """The metrics.json entries of a generate run (its task's sampling settings, `seed`'s
    stream, metrics averaged as `average`); the curves as PNGs and W&B charts.

    seqlab's expected weekly count of an entity is the mean over its sampled futures of each
    week's expected count given the future's earlier draws (the same expectation as the mean of
    the drawn counts, with less Monte Carlo noise: `futures_sampled/*` scores that mean), and
    its probability of buying at least once is 1 - the exact probability of no purchase. Greedy
    futures are one deterministic path: its counts are the prediction.
    """
    history_weeks = weekly.history_weeks
    counts = weekly.counts[test_codes]
    weeks = counts.shape[1] - history_weeks
    history = torch.from_numpy(counts[:, :history_weeks])
    print(f"futures: {task.samples} per entity, {len(counts)} test entities, {weeks} weeks")
    with torch.no_grad():
        futures = rollout_futures(module.cpu(), history, weeks, task, seed)
    sampled = futures.counts.numpy().astype(np.float64)
    sampled_weekly = sampled.mean(axis=1)  # (entities, weeks)
    if task.greedy:
        seqlab_weekly = sampled_weekly
        buys = torch.from_numpy((sampled.sum(axis=2) > 0).mean(axis=1))
    else:
        seqlab_weekly = futures.expected.double().mean(dim=1).numpy()
        buys = 1 - futures.no_event.double()

    model = fit_bgnbd(weekly.frequency, weekly.recency, weekly.age)
    summary = (weekly.frequency[test_codes], weekly.recency[test_codes], weekly.age[test_codes])
    bgnbd_weekly = expected_weekly(model, *summary, weeks)
    actual = counts[:, history_weeks:].astype(np.float64)
    bgnbd_totals = sampled_totals(model, *summary, weeks, task.samples, seed)
    # every entity, as BG/NBD is usually reported (CDNOW: Fader, Hardie and Lee's figures)
    everyone = expected_weekly(model, weekly.frequency, weekly.recency, weekly.age, weeks)
    metrics = {
        **_count_errors("futures", seqlab_weekly, actual),
        **_count_errors("futures_sampled", sampled_weekly, actual),
        **_count_errors("bgnbd", bgnbd_weekly, actual),
        **_count_errors("bgnbd_all", everyone, weekly.counts[:, history_weeks:]),
        **{f"bgnbd/{name}": value for name, value in model.params.items()},
        # the forecast that minimises the expected absolute error: the median of each model's
        # sampled totals (BG/NBD's from its posterior predictive)
        "futures/mae_median": _median_error(sampled.sum(axis=2), actual),
        "bgnbd/mae_median": _median_error(bgnbd_totals, actual),
        **_buyer_metrics(buys, actual.sum(axis=1) > 0, average),
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


def _median_error(totals: np.ndarray, actual: np.ndarray) -> float:
    """Per-entity MAE of the median of (entities, samples) sampled totals."""
    return float(np.abs(np.median(totals, axis=1) - actual.sum(axis=1)).mean())


def _buyer_metrics(buys: torch.Tensor, bought: np.ndarray, average: str) -> dict[str, float]:
    """The five classification metrics of "buys at least once in the generated weeks"."""
    probabilities = torch.stack([1 - buys, buys], dim=1).float()
    metrics = SplitMetrics(2, average, prefix="test/", sync=False)  # rank 0 alone scores
    metrics.update(probabilities, torch.from_numpy(bought).long())
    return {name: float(value) for name, value in metrics.compute().items()}


SAMPLES_FILE = "samples.csv"


def generate(config: GenerateConfig) -> Path:
    """seqlab-generate: `n` sampled futures per entity of the checkpoint's data split, one row
    per entity and sample, one column per generated week, written atomically to samples.csv."""
    import pandas as pd

    from seqlab.data.events.datamodule import EventDataModule
    from seqlab.data.registry import build_datamodule
    from seqlab.files import atomic_path
    from seqlab.models.modules import load_module, sampling

    module, _ = load_module(config.ckpt_path, sampling)
    assert isinstance(module, SequenceGenerator)  # generates_text sent text elsewhere
    hparams = module.hparams
    datamodule = build_datamodule(hparams["data"], TaskName.generate)
    assert isinstance(datamodule, EventDataModule)  # generates_text sent text elsewhere
    weekly = datamodule.weekly
    codes = datamodule.entity_splits[config.split]
    counts = weekly.counts[codes]
    history_weeks = weekly.history_weeks
    weeks = counts.shape[1] - history_weeks
    settings = TaskConfig(
        name=TaskName.generate,
        samples=config.n,
        temperature=config.temperature,
        greedy=config.greedy,
    )
    history = torch.from_numpy(counts[:, :history_weeks])
    sampled = sample_futures(module, history, weeks, settings, config.seed).numpy()
    entities = datamodule.history.entities[codes]
    table = pd.DataFrame(
        sampled.reshape(-1, weeks),
        columns=[f"week_{history_weeks + 1 + w}" for w in range(weeks)],
    )
    table.insert(0, "sample", np.tile(np.arange(config.n), len(codes)))
    table.insert(0, "entity", np.repeat(entities, config.n))
    path = Path(config.paths.output_dir) / SAMPLES_FILE
    with atomic_path(path) as temporary:
        table.to_csv(temporary, index=False)
    return path
