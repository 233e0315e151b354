"""Experiment loggers: W&B (offline unless asked otherwise) and CSV, writing into the run dir."""

import logging
import os
import socket
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from lightning.pytorch.loggers import CSVLogger, Logger, WandbLogger

from seqlab.errors import SeqlabError
from seqlab.training.lightning_private import drop_wandb_anonymous

log = logging.getLogger(__name__)

# W&B run tables show a metric's summary; by default that is the last epoch's value. These make
# it the best epoch's, so runs sort by what they reached (the summary reads e.g. val/f1.max).
WANDB_SUMMARIES = {"val/f1": "max", "val/auroc": "max", "val/loss": "min"}
WANDB_DEFAULT_URL = "https://api.wandb.ai"
# Long enough for a slow link, far below the ~110 s W&B spends retrying before it gives up.
PROBE_SECONDS = 3.0


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
    wandb_cfg = dict(logger_cfg["wandb"])
    if wandb_cfg["enabled"]:
        if not wandb_cfg["offline"]:
            wandb_cfg["offline"] = not _wandb_reachable(
                wandb_cfg.get("on_unreachable", "offline"), run_dir
            )
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
        drop_wandb_anonymous(wandb_logger)
        for name, summary in WANDB_SUMMARIES.items():
            # Same x axis as Lightning gives every metric (it defines "*" this way).
            wandb_logger.experiment.define_metric(
                name, step_metric="trainer/global_step", summary=summary
            )
        loggers.append(wandb_logger)
    for logger in loggers:
        logger.log_hyperparams(flatten(config))
    return loggers


def _wandb_reachable(on_unreachable: str, run_dir: Path) -> bool:
    """Probe the W&B server (or the HTTPS proxy that reaches it) once; when it does not answer,
    log offline (saying so and how to sync) or stop, as logger.wandb.on_unreachable says."""
    url = os.environ.get("WANDB_BASE_URL") or WANDB_DEFAULT_URL
    target = urlparse(os.environ.get("HTTPS_PROXY") or os.environ.get("https_proxy") or url)
    port = target.port or (443 if target.scheme == "https" else 80)
    try:
        socket.create_connection((target.hostname, port), timeout=PROBE_SECONDS).close()
        return True
    except OSError as error:
        reason = error.strerror or type(error).__name__
    where = f"{target.hostname}:{port}"
    if on_unreachable == "error":
        raise SeqlabError(
            f"W&B at {url} is unreachable ({where}: {reason}) and logger.wandb.on_unreachable="
            "error; check the network or WANDB_BASE_URL, or log offline: logger.wandb.offline=true"
        )
    log.warning(
        "W&B at %s is unreachable (%s: %s): logging offline; upload later with: "
        "wandb sync %s/wandb/offline-run-*",
        url,
        where,
        reason,
        run_dir,
    )
    return False


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
