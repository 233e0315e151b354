"""Experiment loggers: W&B (offline unless asked otherwise) and CSV, writing into the run dir."""

import os
from pathlib import Path
from typing import Any

from lightning.pytorch.loggers import CSVLogger, Logger, WandbLogger

from seqlab.training.wandb_artifacts import log_code, log_model_mode

# W&B run tables show a metric's summary; by default that is the last epoch's value. These make
# it the best epoch's, so runs sort by what they reached (the summary reads e.g. val/f1.max).
WANDB_SUMMARIES = {"val/f1": "max", "val/auroc": "max", "val/loss": "min"}


def flatten(config: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """{'model': {'cell': 'lstm'}} -> {'model.cell': 'lstm'}: the form W&B tables filter on."""
    flat: dict[str, Any] = {}
    for key, value in config.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(flatten(value, prefix=f"{name}."))
        else:
            flat[name] = value
    return flat


def build_loggers(
    logger_cfg: dict, run_dir: Path, config: dict[str, Any], wandb_id: str | None = None
) -> list[Logger]:
    """CSV and W&B loggers writing into run_dir; `wandb_id` continues an earlier W&B run."""
    loggers: list[Logger] = []
    if logger_cfg["csv"]:
        loggers.append(CSVLogger(save_dir=run_dir, name="csv", version=_free_csv_version(run_dir)))
    wandb_cfg = logger_cfg["wandb"]
    if wandb_cfg["enabled"]:
        log_model_mode(wandb_cfg)  # a bad value stops the run now, not after training
        if wandb_cfg["offline"]:
            # Offline runs must never reach for the network, even if a key or URL is set.
            os.environ["WANDB_MODE"] = "offline"
        wandb_logger = WandbLogger(
            save_dir=str(run_dir),
            offline=wandb_cfg["offline"],
            project=wandb_cfg["project"],
            entity=wandb_cfg["entity"],
            group=wandb_cfg["group"],
            job_type=wandb_cfg["job_type"],
            tags=list(wandb_cfg["tags"]),
            name=run_dir.name,
            id=wandb_id,
            resume="allow" if wandb_id else None,
        )
        for name, summary in WANDB_SUMMARIES.items():
            # Same x axis as Lightning gives every metric (it defines "*" this way).
            wandb_logger.experiment.define_metric(
                name, step_metric="trainer/global_step", summary=summary
            )
        if wandb_cfg.get("log_code", False):
            log_code()  # after .experiment above started the run (on rank 0 only)
        loggers.append(wandb_logger)
    for logger in loggers:
        logger.log_hyperparams(flatten(config))
    return loggers


def _free_csv_version(run_dir: Path) -> str:
    """Lightning's CSV logger deletes an existing metrics.csv; a resumed run logs beside it."""
    version, attempt = "", 1
    while (run_dir / "csv" / version / "metrics.csv").exists():
        version, attempt = f"resume_{attempt}", attempt + 1
    return version


def finish_wandb() -> None:
    """Close the W&B run so that the next job of a multirun starts its own."""
    import sys

    if "wandb" in sys.modules:
        import wandb

        if wandb.run is not None:
            wandb.finish()
