"""`ensemble.seeds=[...]`: one model per seed, trained one after another, and the ensemble of
their averaged class probabilities.

Each member is a whole run of its own (its protocol, checkpoints, CSV log, plots and
metrics.json) in <run dir>/members/seed<seed>/; the data split stays the run's (data.split_seed),
so every member validates and tests on the same series. The run dir's metrics.json holds the
ensemble's five metrics and loss under the usual names ({val,test}/<metric>; val only where the
protocol keeps a validation part) and, beside each, the members' mean and sample std
({split}/<metric>_members_mean, _members_std); ensemble_<split>.csv holds the averaged
probabilities. The loss of the ensemble is the cross-entropy of its averaged probabilities.
"""

import csv
import io
import json
from dataclasses import replace

import torch

from seqlab.config import EnsembleConfig, TrainConfig
from seqlab.errors import SeqlabError
from seqlab.files import write_text_atomic
from seqlab.layout import METRICS_FILE
from seqlab.metrics.scores import METRIC_NAMES
from seqlab.metrics.state import SplitMetrics
from seqlab.reports.table import mean_std
from seqlab.schema import plain
from seqlab.training.loggers import build_loggers, finish_wandb, log_summary
from seqlab.training.results import Fitted
from seqlab.training.resume import ResumePoint
from seqlab.training.run import build_run, fit_and_test

MEMBERS_DIR = "members"
NAMES = (*METRIC_NAMES, "loss")


def train_ensemble(config: TrainConfig, resume: ResumePoint) -> dict[str, float]:
    if resume.ckpt_path is not None:
        raise SeqlabError(
            "ensemble.seeds cannot resume or start from a checkpoint (ckpt_path, resume); "
            "drop them, or resume the members one by one without ensemble.seeds"
        )
    seeds = config.ensemble.seeds
    if len(set(seeds)) != len(seeds):
        raise SeqlabError(f"ensemble.seeds={seeds} repeats a seed; give distinct seeds")
    # One W&B run for the ensemble (this run dir); the members log to CSV only.
    quiet_wandb = replace(config.logger.wandb, enabled=False)
    quiet_logger = replace(config.logger, wandb=quiet_wandb)
    probabilities: dict[str, list[torch.Tensor]] = {}
    labels: dict[str, torch.Tensor] = {}
    protocol = ""
    for seed in seeds:
        member = replace(config, seed=seed, logger=quiet_logger, ensemble=EnsembleConfig())
        member_dir = resume.run_dir / MEMBERS_DIR / f"seed{seed}"
        fitted = fit_and_test(build_run(member, replace(resume, run_dir=member_dir, wandb_id=None)))
        finish_wandb()
        protocol = fitted.protocol
        for split, (member_probabilities, member_labels) in predictions(fitted).items():
            if split in labels and not torch.equal(labels[split], member_labels):
                raise RuntimeError(f"ensemble members saw the {split} split in different orders")
            labels[split] = member_labels
            probabilities.setdefault(split, []).append(member_probabilities)
    meta = fitted.datamodule.meta
    metrics: dict[str, float] = {"ensemble/members": float(len(seeds))}
    for split, members in probabilities.items():
        mean = torch.stack(members).mean(dim=0)
        average = config.metrics.average
        metrics.update(split_metrics(mean, labels[split], meta.num_classes, average, split))
        each = [split_metrics(p, labels[split], meta.num_classes, average, split) for p in members]
        for name in NAMES:
            key = f"{split}/{name}"
            spread = mean_std([values[key] for values in each])
            metrics[f"{key}_members_mean"], metrics[f"{key}_members_std"] = spread
        write_text_atomic(
            resume.run_dir / f"ensemble_{split}.csv",
            _probabilities_csv(mean, labels[split], meta.class_names),
        )
    written: dict[str, float | str] = {**dict(sorted(metrics.items())), "protocol": protocol}
    write_text_atomic(resume.run_dir / METRICS_FILE, json.dumps(written, indent=2) + "\n")
    loggers = build_loggers(config.logger, resume.run_dir, plain(config))
    log_summary(loggers, written, step=0)
    from seqlab.console import print_metrics_table

    print_metrics_table(metrics, title=f"ensemble of {len(seeds)}: {resume.run_dir / METRICS_FILE}")
    return metrics


def predictions(fitted: Fitted) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    """split -> (class probabilities, labels) of the member's tested weights, for val (if the
    protocol kept one) and test, in the split's own order (a bucketing loader reorders it)."""
    module, datamodule = fitted.module, fitted.datamodule
    assert datamodule.splits is not None
    splits = ("val", "test") if datamodule.has_validation else ("test",)
    size = datamodule.batch_size
    module.eval()
    result = {}
    with torch.inference_mode():
        for split in splits:
            dataset = datamodule.splits[split]
            batches = [
                dataset[list(range(start, min(start + size, len(dataset))))].to(module.device)
                for start in range(0, len(dataset), size)
            ]
            result[split] = (
                torch.cat([module(b).float().softmax(-1) for b in batches]).cpu(),
                dataset.labels.cpu(),
            )
    return result


def split_metrics(
    probabilities: torch.Tensor,
    labels: torch.Tensor,
    num_classes: int,
    average: str,
    split: str,
) -> dict[str, float]:
    """The five metrics and the loss (cross-entropy of these probabilities) under
    {split}/<name>, as a run logs them (metrics averaged as `average`)."""
    # the whole split is here: nothing to gather from other processes
    metrics = SplitMetrics(num_classes, average, prefix=f"{split}/", sync=False)
    metrics.update(probabilities, labels)
    values = {name: float(value) for name, value in metrics.compute().items()}
    picked = probabilities.gather(1, labels[:, None]).squeeze(1)
    values[f"{split}/loss"] = float(-picked.clamp_min(1e-12).log().mean())
    return values


def _probabilities_csv(
    probabilities: torch.Tensor, labels: torch.Tensor, class_names: tuple[str, ...]
) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["label", *(f"p_{name}" for name in class_names)])
    for label, row in zip(labels.tolist(), probabilities.tolist(), strict=True):
        writer.writerow([class_names[label], *(repr(p) for p in row)])
    return out.getvalue()
