"""One fit and test, in two halves: `build_run` makes everything a run needs (data, module,
callbacks, loggers, Trainer) as one typed object, `fit_and_test` runs it (fit by the data's
protocol, test the kept checkpoint, report). seqlab-train calls both once, the ensemble once per
member (training/ensemble.py)."""

import json
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import lightning as L
import torch
from lightning.pytorch.callbacks import Callback

from seqlab.config import TaskConfig, TrainConfig
from seqlab.console import print_parameter_table
from seqlab.data.base import SequenceDataModule
from seqlab.data.events.datamodule import EventDataModule
from seqlab.data.registry import build_datamodule
from seqlab.errors import SeqlabError
from seqlab.files import write_text_atomic
from seqlab.layout import LAST_CHECKPOINT
from seqlab.models.classifier import SequenceClassifier
from seqlab.models.modules import module_class
from seqlab.models.summary import layer_parameters, refuse_oversized
from seqlab.models.tasks import TASKS
from seqlab.schema import plain
from seqlab.training.callbacks.checkpoint import BestAndLastCheckpoint
from seqlab.training.callbacks.finite import NonFiniteGuard
from seqlab.training.callbacks.rng import RngStateCheckpoint
from seqlab.training.loggers import build_loggers, log_summary
from seqlab.training.protocols import (
    StopAfterEpochs,
    choose_epochs,
    kept_checkpoint,
    stops_early,
)
from seqlab.training.pruning import pruning_callbacks
from seqlab.training.results import Fitted, floats, write_rank_zero_metrics
from seqlab.training.resume import ResumePoint, check_fits
from seqlab.training.run_callbacks import checkpoint_callback, other_callbacks, testing_callbacks
from seqlab.training.run_lock import is_first_process
from seqlab.training.trainer import build_trainer
from seqlab.training.wandb_artifacts import log_model

CV_FILE = "cv_epochs.json"  # protocol=cv_epochs: each fold's curves and the chosen epochs


@dataclass
class BuiltRun:
    """Everything one fit and test uses, made before anything trains (lightning-hydra-template's
    object_dict, with a type per part)."""

    config: TrainConfig
    resume: ResumePoint
    datamodule: SequenceDataModule
    module: SequenceClassifier
    checkpoint: BestAndLastCheckpoint
    trainer: L.Trainer
    summary: dict[str, float | str]  # the protocol's choices, written into metrics.json
    logged: dict[str, Any]  # the W&B config: the run's config, plain, with the data's meta


def build_run(config: TrainConfig, resume: ResumePoint) -> BuiltRun:
    """Data, module, callbacks, loggers and Trainer of one run into resume.run_dir; with
    data.protocol=cv_epochs the folds are fitted first, to choose the number of epochs."""
    run_dir = resume.run_dir
    L.seed_everything(config.seed, workers=True, verbose=False)
    datamodule = build_datamodule(config.data, config.task.name)
    if isinstance(datamodule, EventDataModule):  # task=generate on events reads it
        datamodule.train_histories = config.task.train_histories
    datamodule.setup("fit")
    protocol = datamodule.protocol
    if not datamodule.has_validation and config.optim.scheduler == "plateau":
        raise SeqlabError(
            f"optim.scheduler=plateau watches val/loss, but data.protocol={protocol} keeps no "
            "validation part; use optim.scheduler=cosine or none, or data.protocol=val_split"
        )
    extra: list[Callback] = []
    summary: dict[str, float | str] = {"protocol": protocol}
    if protocol == "cv_epochs":
        epochs = _cross_validated_epochs(config, datamodule, resume)
        summary["protocol/cv_epochs"] = epochs
        extra.append(StopAfterEpochs(epochs))
        L.seed_everything(config.seed, workers=True, verbose=False)  # as each fold began
    module = _module(config, datamodule)
    if resume.ckpt_path is not None:
        check_fits(resume.ckpt_path, module.hparams)
    kept = kept_checkpoint(config.callbacks.checkpoint, protocol)
    callbacks_cfg = config.callbacks
    if not stops_early(protocol):
        stopping = replace(callbacks_cfg.early_stopping, enabled=False)
        callbacks_cfg = replace(callbacks_cfg, early_stopping=stopping)
    checkpoint = checkpoint_callback(callbacks_cfg.checkpoint, kept, run_dir)
    callbacks = [
        checkpoint,
        RngStateCheckpoint(),
        NonFiniteGuard(),
        *other_callbacks(callbacks_cfg, kept, run_dir),
        *extra,
        *testing_callbacks(config.logger, run_dir, datamodule),
        # A search trial (hydra_plugins/seqlab_optuna_sweeper) prunes through this one.
        *pruning_callbacks(),
    ]
    logged = {**plain(config), "meta": module.hparams["meta"]}
    loggers = build_loggers(config.logger, run_dir, logged, wandb_id=resume.wandb_id)
    options = config.trainer
    if not datamodule.has_validation:
        options = {**options, "limit_val_batches": 0}
    trainer = build_trainer(options, run_dir, callbacks, loggers)
    return BuiltRun(config, resume, datamodule, module, checkpoint, trainer, summary, logged)


def fit_and_test(run: BuiltRun) -> Fitted:
    """Fit, test the kept checkpoint, write metrics.json into the run dir (and, with W&B, log
    the model)."""
    config, module, datamodule, trainer = run.config, run.module, run.datamodule, run.trainer
    run_dir, summary = run.resume.run_dir, dict(run.summary)
    if trainer.is_global_zero and config.print_parameters:
        print_parameter_table(layer_parameters(module))
    trainer.fit(module, datamodule=datamodule, ckpt_path=run.resume.ckpt_path)
    # Rank 0's writer thread finishes the checkpoint files as fit ends (checkpoint_io.py); the
    # other ranks read the best one next, and would otherwise race that write.
    trainer.strategy.barrier("seqlab: checkpoints written")
    # From the module, which restores them from a checkpoint too (a run resumed after its
    # last epoch validates nothing); written once, here, not logged every epoch.
    best_val = dict(sorted(module.best.items()))
    best_path = run.checkpoint.best_model_path or None
    if best_path is not None:
        summary["protocol/epochs"] = _trained_epochs(best_path)
    if trainer.is_global_zero:
        log_summary(trainer.loggers, {**best_val, **summary}, trainer.global_step)
    tested = trainer.test(
        module, datamodule=datamodule, ckpt_path=best_path, verbose=False, weights_only=True
    )
    metrics = {**floats(tested[0]), **best_val}
    if TASKS[config.task.name].samples and trainer.is_global_zero:
        metrics |= futures(module, datamodule, trainer, FuturesScoring.of(config, run_dir))
    write_rank_zero_metrics(run_dir, metrics, trainer, summary)
    if config.logger.wandb.enabled and trainer.is_global_zero:
        last = run_dir / LAST_CHECKPOINT
        last_path = str(last) if last.is_file() else None
        log_model(config.logger.wandb, best_path, last_path, metrics, run.logged)
    return Fitted(metrics, module, datamodule, datamodule.protocol)


def _module(config: TrainConfig, datamodule: SequenceDataModule) -> SequenceClassifier:
    def build() -> SequenceClassifier:
        module = module_class(TASKS[config.task.name], config.data.kind)
        return module.from_config(config, datamodule.meta, datamodule.fitted_state())

    refuse_oversized(build)
    return build()


def _cross_validated_epochs(
    config: TrainConfig, datamodule: SequenceDataModule, resume: ResumePoint
) -> int:
    """protocol=cv_epochs: the number of epochs the folds choose (their curves: cv_epochs.json).
    A resumed run reads the choice its folds wrote before the refit began: refitting is all
    that was left to do."""
    run_dir = resume.run_dir
    written = run_dir / CV_FILE
    if resume.continued and written.is_file():
        epochs = int(json.loads(written.read_text())["epochs"])
        if is_first_process():
            print(f"cv_epochs: {epochs} epochs, as chosen before the resume ({written})")
        return epochs
    choice = choose_epochs(
        datamodule,
        config.data.cv_folds,
        config.callbacks.checkpoint,
        lambda fold, history: _fit_fold(config, fold, history, run_dir),
    )
    if is_first_process():
        write_text_atomic(written, json.dumps(choice.to_dict(), indent=1) + "\n")
        print(f"cv_epochs: {choice.epochs} epochs ({choice.monitor}, {len(choice.folds)} folds)")
    return choice.epochs


def _fit_fold(
    config: TrainConfig, fold: SequenceDataModule, history: Callback, run_dir: Path
) -> None:
    """One cross-validation fit (protocol=cv_epochs): every epoch, nothing saved or logged."""
    L.seed_everything(config.seed, workers=True, verbose=False)
    options = {**config.trainer, "enable_checkpointing": False}
    trainer = build_trainer(options, run_dir, [history, NonFiniteGuard()], [])
    trainer.fit(_module(config, fold), datamodule=fold)


def _trained_epochs(ckpt_path: str) -> int:
    """The number of epochs the checkpoint's weights were trained for."""
    checkpoint = torch.load(ckpt_path, map_location="cpu", weights_only=True)
    return int(checkpoint["epoch"]) + 1


def futures(
    module: L.LightningModule,
    datamodule: SequenceDataModule,
    trainer: L.Trainer,
    scoring: "FuturesScoring",
) -> dict[str, float]:
    """Event data: the best checkpoint's sampled futures against BG/NBD on the test entities;
    text: the unigram baseline's perplexities on the test messages."""
    from seqlab.models.generator import SequenceGenerator
    from seqlab.training.generate import futures_report

    if not isinstance(datamodule, EventDataModule):
        from seqlab.training.generate_text import unigram_report

        assert datamodule.splits is not None  # set up by fit
        meta, fitted = datamodule.meta, datamodule.fitted_state()
        report = unigram_report(datamodule.splits, meta.num_classes, fitted["conditions"])
        log_summary(trainer.loggers, report, trainer.global_step)
        return report
    assert isinstance(module, SequenceGenerator)  # the generate task's module for events
    report = futures_report(
        module,
        datamodule.weekly,
        datamodule.entity_splits["test"],
        scoring.task,
        scoring.average,
        scoring.seed,
        scoring.run_dir,
        trainer.loggers,
    )
    log_summary(trainer.loggers, report, trainer.global_step)
    return report


@dataclass(frozen=True)
class FuturesScoring:
    """How a task=generate run scores its test part: its task's sampling settings, the metrics'
    average, the sampling stream's seed, where the curves go."""

    task: TaskConfig
    average: str
    seed: int
    run_dir: Path

    @classmethod
    def of(cls, config: TrainConfig, run_dir: Path) -> "FuturesScoring":
        return cls(config.task, config.metrics.average, config.seed, run_dir)
