"""The callbacks of a run, from its `callbacks` and `logger` options: checkpoints, early
stopping, progress, gradient diagnostics, the user's extra callbacks, and the test plots."""

from pathlib import Path
from typing import Any

from lightning.pytorch.callbacks import Callback, EarlyStopping

from seqlab.config import CallbacksConfig, CheckpointConfig, LoggerConfig
from seqlab.data.base import SequenceDataModule
from seqlab.errors import SeqlabError
from seqlab.layout import CHECKPOINT_DIR, PLOTS_DIR
from seqlab.models.tasks import TASKS
from seqlab.training.callbacks.checkpoint import BestAndLastCheckpoint
from seqlab.training.callbacks.gradients import GradientDiagnostics
from seqlab.training.callbacks.plots import TestPlots
from seqlab.training.callbacks.prediction_table import SplitPredictionTable
from seqlab.training.callbacks.progress import EpochMetricsProgressBar
from seqlab.training.protocols import KeptCheckpoint


def checkpoint_callback(
    cfg: CheckpointConfig, kept: KeptCheckpoint, run_dir: Path
) -> BestAndLastCheckpoint:
    return BestAndLastCheckpoint(
        dirpath=run_dir / CHECKPOINT_DIR,
        monitor=kept.monitor,
        mode=kept.mode,
        save_last=cfg.save_last,
        tie_breaker=kept.tie_breaker,
        last_every_s=cfg.last_every_s,
        filename="epoch{epoch:03d}",
        auto_insert_metric_name=False,
        # One run per run dir (training/run_state.py): a file of the same name is this run's
        # own, from before a resume, and is replaced rather than kept beside a "-v1" copy.
        enable_version_counter=False,
    )


def other_callbacks(cfg: CallbacksConfig, kept: KeptCheckpoint, run_dir: Path) -> list[Callback]:
    """Early stopping (watching what the checkpoint keeps; a protocol that keeps the newest
    stops by its epoch count instead), the progress bar, gradient diagnostics, the extras."""
    callbacks: list[Callback] = []
    if cfg.early_stopping.enabled and kept.monitor is not None:
        callbacks.append(
            EarlyStopping(
                monitor=kept.monitor,
                mode=kept.mode,
                patience=cfg.early_stopping.patience,
            )
        )
    if cfg.progress_bar:
        callbacks.append(EpochMetricsProgressBar())
    if cfg.gradients.enabled:
        callbacks.append(GradientDiagnostics.from_config(cfg.gradients, run_dir))
    # callbacks.extra: Hydra's instantiate takes the plain `_target_` nodes
    return callbacks + [_extra_callback(name, node) for name, node in cfg.extra.items()]


def _extra_callback(name: str, node: dict[str, Any]) -> Callback:
    from hydra.errors import InstantiationException
    from hydra.utils import instantiate

    try:
        callback = instantiate(node)
    except InstantiationException as error:
        first = str(error).strip().splitlines()[0]
        raise SeqlabError(
            f"config: callbacks.extra.{name}: {first}; fix its _target_ or arguments"
        ) from None
    if not isinstance(callback, Callback):
        raise SeqlabError(
            f"config: callbacks.extra.{name}: {node['_target_']} is not a Lightning Callback; "
            "name a subclass of lightning.pytorch.callbacks.Callback"
        )
    return callback


def testing_callbacks(
    logger: LoggerConfig, run_dir: Path, datamodule: SequenceDataModule
) -> list[Callback]:
    """Plots and the prediction table of classified samples or steps; task=generate draws
    its own curves (training/generate.py)."""
    if TASKS[datamodule.task].samples:
        return []
    return [
        TestPlots(run_dir / PLOTS_DIR, datamodule.meta.class_names),
        _prediction_table(logger, run_dir, datamodule),
    ]


def _prediction_table(
    logger: LoggerConfig, run_dir: Path, datamodule: SequenceDataModule
) -> SplitPredictionTable:
    return SplitPredictionTable(
        run_dir / PLOTS_DIR,
        datamodule.meta.class_names,
        # a row per sample, which task=tag (a prediction per step) does not fit
        rows=0 if TASKS[datamodule.task].per_step else logger.wandb.prediction_rows,
        texts=datamodule.sample_texts("test"),
    )
