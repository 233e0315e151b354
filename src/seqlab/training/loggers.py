"""Experiment loggers: W&B (offline unless asked otherwise) and CSV, writing into the run dir."""

import logging
import os
import socket
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from lightning.pytorch.loggers import CSVLogger, Logger, WandbLogger

from seqlab.config import LoggerConfig
from seqlab.errors import SeqlabError
from seqlab.training.lightning_private import drop_wandb_anonymous
from seqlab.training.run_lock import is_first_process
from seqlab.training.wandb_artifacts import log_code, log_model_mode

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


# W&B's folders under the user's home, by the variable that moves each (W&B's defaults).
WANDB_HOME_DIRS = {
    "WANDB_DATA_DIR": "~/.local/share/wandb",  # staged artifacts (the code artifact, tables)
    "WANDB_CACHE_DIR": "~/.cache/wandb",  # the artifact cache
    "WANDB_CONFIG_DIR": "~/.config/wandb",  # settings
}


def _wandb_dirs_writable(run_dir: Path) -> None:
    """W&B writes into the user's home; where that cannot be written (a read-only home), its
    folders move into the run dir, said once, instead of a PermissionError after the run began.
    A variable the user set is left alone."""
    for variable, default in WANDB_HOME_DIRS.items():
        if variable in os.environ or _writable(Path(default).expanduser()):
            continue
        moved = run_dir / "wandb" / variable.removeprefix("WANDB_").lower()
        os.environ[variable] = str(moved)
        log.info(f"{default} cannot be written; W&B uses {moved} ({variable})")


def _writable(folder: Path) -> bool:
    """Whether `folder` can be written or made (its nearest existing parent can be written)."""
    existing = folder
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    return existing.is_dir() and os.access(existing, os.W_OK)


def build_loggers(
    logger_cfg: LoggerConfig, run_dir: Path, config: dict[str, Any], wandb_id: str | None = None
) -> list[Logger]:
    """CSV and W&B loggers writing into run_dir; `wandb_id` continues an earlier W&B run;
    `config` is the run's config as W&B records it (plain values, flattened here)."""
    loggers: list[Logger] = []
    if logger_cfg.csv:
        loggers.append(CSVLogger(save_dir=run_dir, name="csv", version=_free_csv_version(run_dir)))
    wandb_cfg = logger_cfg.wandb
    if wandb_cfg.enabled:
        log_model_mode(wandb_cfg)  # a bad value stops the run now, not after training
        offline = wandb_cfg.offline or not _wandb_reachable(wandb_cfg.on_unreachable, run_dir)
        if offline:
            # Offline runs must never reach for the network, even if a key or URL is set.
            os.environ["WANDB_MODE"] = "offline"
        _wandb_dirs_writable(run_dir)
        wandb_logger = WandbLogger(
            save_dir=str(run_dir),
            offline=offline,
            project=wandb_cfg.project,
            entity=wandb_cfg.entity,
            group=wandb_cfg.group,
            job_type=wandb_cfg.job_type,
            tags=list(wandb_cfg.tags),
            name=run_dir.name,
            id=wandb_id,
            resume="allow" if wandb_id else None,
        )
        drop_wandb_anonymous(wandb_logger)
        _start(wandb_logger)
        if wandb_id and offline and is_first_process():  # the others log nothing to W&B
            _continue_offline_steps(wandb_logger, run_dir)
        for name, summary in WANDB_SUMMARIES.items():
            # Same x axis as Lightning gives every metric (it defines "*" this way).
            wandb_logger.experiment.define_metric(
                name, step_metric="trainer/global_step", summary=summary
            )
        if wandb_cfg.log_code:
            log_code()  # after .experiment above started the run (on rank 0 only)
        loggers.append(wandb_logger)
    for logger in loggers:
        logger.log_hyperparams(flatten(config))
    return loggers


def _start(wandb_logger: WandbLogger) -> None:
    """Start the W&B run now; what W&B refuses in the settings (an invalid project name, a bad
    entity) is one line, not its traceback."""
    import wandb

    try:
        wandb_logger.experiment  # noqa: B018 (the property starts the run)
    except wandb.errors.UsageError as error:
        first = str(error).strip().splitlines()[0]
        raise SeqlabError(
            f"logger.wandb: {first}; fix logger.wandb.project/entity, or log without W&B "
            "(logger=csv)"
        ) from None


def _continue_offline_steps(wandb_logger: WandbLogger, run_dir: Path) -> None:
    """An offline W&B run resumed by id starts its history at step 0 again (online, the server
    tells it where the run stopped), so its folder would repeat the steps of the earlier folders
    of that run. It starts one step after the last step they hold, read with W&B's own reader;
    the interrupted epoch's redone rows then follow rather than overwrite what was logged."""
    run = wandb_logger.experiment
    current = Path(run.dir).parent  # <run dir>/wandb/offline-run-<time>-<id>/files
    earlier = sorted(p for p in (run_dir / "wandb").glob(f"offline-run-*-{run.id}") if p != current)
    for folder in reversed(earlier):  # newest first; a run killed at start has no history
        step = _last_wandb_step(folder)
        if step is not None:
            run.log({}, step=step + 1, commit=False)  # the next row is logged at this step
            return


def _last_wandb_step(folder: Path) -> int | None:
    import json
    import subprocess
    import sys

    command = [sys.executable, "-m", "wandb", "leet", "inspect", "--summary", "--json"]
    result = subprocess.run([*command, str(folder)], capture_output=True, text=True, timeout=120)
    if result.returncode != 0:
        print(f"seqlab: W&B cannot read {folder} ({result.stderr.strip()[:200]}); skipped")
        return None
    step = json.loads(result.stdout).get("summary", {}).get("_step")
    return int(step) if step is not None else None


def wandb_unreachable() -> tuple[str, str, str] | None:
    """Probe the W&B server (or the HTTPS proxy that reaches it) once: None when it answers,
    else its URL, the host:port probed and why it did not answer."""
    url = os.environ.get("WANDB_BASE_URL") or WANDB_DEFAULT_URL
    target = urlparse(os.environ.get("HTTPS_PROXY") or os.environ.get("https_proxy") or url)
    port = target.port or (443 if target.scheme == "https" else 80)
    try:
        socket.create_connection((target.hostname, port), timeout=PROBE_SECONDS).close()
        return None
    except OSError as error:
        return url, f"{target.hostname}:{port}", error.strerror or type(error).__name__


def _wandb_reachable(on_unreachable: str, run_dir: Path) -> bool:
    """When the W&B server does not answer a probe, log offline (saying so and how to sync) or
    stop, as logger.wandb.on_unreachable says."""
    unreachable = wandb_unreachable()
    if unreachable is None:
        return True
    url, where, reason = unreachable
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


def log_summary(loggers: list[Logger], values: Mapping[str, float | str], step: int) -> None:
    """Values known once fit ends (val/*_best, the protocol): the W&B run's summary, and one
    CSV row at `step` (numbers only). Call it on rank zero only."""
    numbers = {k: v for k, v in values.items() if not isinstance(v, str)}
    for logger in loggers:
        if isinstance(logger, WandbLogger):
            logger.experiment.summary.update(dict(values))
        elif numbers:
            logger.log_metrics(numbers, step=step)
            logger.save()


def _free_csv_version(run_dir: Path) -> str:
    """Lightning's CSV logger deletes an existing metrics.csv; a resumed run logs beside it."""
    version, attempt = "", 1
    while (run_dir / "csv" / version / "metrics.csv").exists():
        version, attempt = f"resume_{attempt}", attempt + 1
    return version


def finish_wandb(exit_code: int | None = None, preempted: bool = False) -> None:
    """Close the W&B run so that the next job of a multirun starts its own; a preempted run is
    marked so (W&B shows it as preempted, to be resumed) and keeps its exit code."""
    import sys

    if "wandb" in sys.modules:
        import wandb

        if wandb.run is not None:
            if preempted:
                wandb.run.mark_preempting()
            wandb.finish(exit_code=exit_code)
