"""The two runs seqlab knows, from a validated config to metrics.json.

train:    data -> meta -> model -> Trainer.fit (by the data's protocol: training/protocols.py)
          -> Trainer.test(kept checkpoint) -> metrics.json; with ensemble.seeds, once per seed
          and then the ensemble (training/ensemble.py)
evaluate: checkpoint -> model + data config -> Trainer.test (or .validate) -> metrics.json
"""

import json
import sys
from pathlib import Path
from typing import Any

import lightning as L
import torch
from lightning.pytorch.callbacks import Callback, EarlyStopping
from lightning.pytorch.utilities.exceptions import SIGTERMException

from seqlab.config import LocalDataConfig, WandbConfig
from seqlab.console import (
    log_lightning_once,
    print_parameter_table,
    quiet_known_warnings,
)
from seqlab.data.base import SequenceDataModule
from seqlab.data.registry import build_datamodule
from seqlab.errors import SeqlabError
from seqlab.files import remove_partial_files, write_text_atomic
from seqlab.layout import CHECKPOINT_DIR, LAST_CHECKPOINT, METRICS_FILE, PLOTS_DIR
from seqlab.models.classifier import SequenceClassifier
from seqlab.models.modules import load_module, module_class, require_same_meta
from seqlab.models.summary import layer_parameters, refuse_oversized
from seqlab.schema import to_dataclass
from seqlab.training.callbacks.checkpoint import BestAndLastCheckpoint
from seqlab.training.callbacks.finite import NonFiniteGuard
from seqlab.training.callbacks.gradients import GradientDiagnostics
from seqlab.training.callbacks.plots import TestPlots
from seqlab.training.callbacks.prediction_table import SplitPredictionTable
from seqlab.training.callbacks.progress import EpochMetricsProgressBar
from seqlab.training.callbacks.rng import RngStateCheckpoint
from seqlab.training.loggers import build_loggers, finish_wandb, log_summary
from seqlab.training.protocols import (
    StopAfterEpochs,
    checkpoint_options,
    choose_epochs,
    stops_early,
)
from seqlab.training.pruning import pruning_callbacks
from seqlab.training.results import Fitted, floats, write_rank_zero_metrics
from seqlab.training.resume import ResumePoint, check_fits, resume_point
from seqlab.training.run_lock import is_first_process, lock_run_dir, unlock_run_dir
from seqlab.training.run_state import RunState, config_digest, write_status
from seqlab.training.signals import Preempted, PreemptionSignals, stop_line, stop_signal
from seqlab.training.trainer import build_trainer
from seqlab.training.wandb_artifacts import log_model

CV_FILE = "cv_epochs.json"  # protocol=cv_epochs: each fold's curves and the chosen epochs


def train(config: dict[str, Any]) -> dict[str, float]:
    log_lightning_once()
    quiet_known_warnings()
    resume = resume_point(
        Path(config["paths"]["output_dir"]), config["ckpt_path"], config["resume"]
    )
    run_dir = resume.run_dir
    locked = lock_run_dir(run_dir)
    if is_first_process():  # holds the lock: what a killed run left half-written goes
        remove_partial_files(run_dir)
        remove_partial_files(run_dir / CHECKPOINT_DIR)
    for skipped in resume.skipped:
        print(f"skipping {skipped}")
    if resume.continued:
        print(f"resuming {run_dir} from {resume.ckpt_path}")
    digest = config_digest(config)
    received = PreemptionSignals(run_dir / METRICS_FILE)
    try:
        with received.installed():
            if is_first_process():
                write_status(run_dir, RunState.RUNNING, digest)
            metrics = _train(config, resume, received)
            if is_first_process():
                write_status(run_dir, RunState.FINISHED, digest)
            return metrics
    except (Preempted, SIGTERMException):
        signum = stop_signal(received)
        if is_first_process():
            write_status(run_dir, RunState.STOPPED, digest, signum)
            print(f"seqlab: {stop_line(signum, run_dir)}", file=sys.stderr)
        raise SystemExit(128 + signum) from None
    finally:
        if locked:
            unlock_run_dir(run_dir)


def _train(
    config: dict[str, Any], resume: ResumePoint, received: PreemptionSignals
) -> dict[str, float]:
    try:
        if config["ensemble"]["seeds"]:
            from seqlab.training.ensemble import train_ensemble

            return train_ensemble(config, resume, fit_and_test)
        return fit_and_test(config, resume).metrics
    except (Preempted, SIGTERMException):
        finish_wandb(exit_code=128 + stop_signal(received), preempted=True)
        raise
    finally:
        finish_wandb()


def fit_and_test(config: dict[str, Any], resume: ResumePoint) -> Fitted:
    """Fit by the data's protocol (training/protocols.py), test the kept checkpoint, write
    metrics.json into resume.run_dir."""
    run_dir = resume.run_dir
    L.seed_everything(config["seed"], workers=True, verbose=False)
    datamodule = build_datamodule(config["data"], _task(config)["name"])
    if _task(config)["name"] == "generate":
        datamodule.train_histories = _task(config)["train_histories"]  # type: ignore[attr-defined]
    datamodule.setup("fit")
    protocol = datamodule.protocol
    if not datamodule.has_validation and config["optim"]["scheduler"] == "plateau":
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
        L.seed_everything(config["seed"], workers=True, verbose=False)  # as each fold began
    module = _module(config, datamodule)
    if resume.ckpt_path is not None:
        check_fits(resume.ckpt_path, module.hparams)
    callbacks_cfg = {
        **config["callbacks"],
        "checkpoint": checkpoint_options(config["callbacks"]["checkpoint"], protocol),
    }
    if not stops_early(protocol):
        callbacks_cfg["early_stopping"] = {**callbacks_cfg["early_stopping"], "enabled": False}
    checkpoint = _checkpoint_callback(callbacks_cfg["checkpoint"], run_dir)
    callbacks = [
        checkpoint,
        RngStateCheckpoint(),
        NonFiniteGuard(),
        *_other_callbacks(callbacks_cfg, run_dir),
        *extra,
        *_test_callbacks(config["logger"], run_dir, datamodule),
        # A search trial (hydra_plugins/seqlab_optuna_sweeper) prunes through this one.
        *pruning_callbacks(),
    ]
    logged = {**config, "meta": module.hparams["meta"]}
    loggers = build_loggers(config["logger"], run_dir, logged, wandb_id=resume.wandb_id)
    options = config["trainer"]
    if not datamodule.has_validation:
        options = {**options, "limit_val_batches": 0}
    trainer = build_trainer(options, run_dir, callbacks, loggers)
    if trainer.is_global_zero and config["print_parameters"]:
        print_parameter_table(layer_parameters(module))
    trainer.fit(module, datamodule=datamodule, ckpt_path=resume.ckpt_path)
    # From the module, which restores them from a checkpoint too (a run resumed after its
    # last epoch validates nothing); written once, here, not logged every epoch.
    best_val = dict(sorted(module.best.items()))
    best_path = checkpoint.best_model_path or None
    if best_path is not None:
        summary["protocol/epochs"] = _trained_epochs(best_path)
    if trainer.is_global_zero:
        log_summary(trainer.loggers, {**best_val, **summary}, trainer.global_step)
    tested = trainer.test(
        module, datamodule=datamodule, ckpt_path=best_path, verbose=False, weights_only=True
    )
    metrics = {**floats(tested[0]), **best_val}
    if _task(config)["name"] == "generate" and trainer.is_global_zero:
        metrics |= _futures(module, datamodule, config, run_dir, trainer)
    write_rank_zero_metrics(run_dir, metrics, trainer, summary)
    if config["logger"]["wandb"]["enabled"] and trainer.is_global_zero:
        last = run_dir / LAST_CHECKPOINT
        last_path = str(last) if last.is_file() else None
        log_model(config["logger"]["wandb"], best_path, last_path, metrics, logged)
    return Fitted(metrics, module, datamodule, protocol)


def _module(config: dict[str, Any], datamodule: SequenceDataModule) -> SequenceClassifier:
    def build() -> SequenceClassifier:
        return module_class(_task(config), config["data"])(
            model=config["model"],
            meta=datamodule.meta.to_dict(),
            optim=config["optim"],
            metrics=config["metrics"],
            data=config["data"],
            fitted=datamodule.fitted_state(),
            task=_task(config),
        )

    refuse_oversized(build)
    return build()


def _task(config: dict[str, Any]) -> dict[str, Any]:
    return config.get("task") or {"name": "classify"}


def _cross_validated_epochs(
    config: dict[str, Any], datamodule: SequenceDataModule, resume: ResumePoint
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
        config["data"]["cv_folds"],
        config["callbacks"]["checkpoint"],
        lambda fold, history: _fit_fold(config, fold, history, run_dir),
    )
    if is_first_process():
        write_text_atomic(written, json.dumps(choice.to_dict(), indent=1) + "\n")
        print(f"cv_epochs: {choice.epochs} epochs ({choice.monitor}, {len(choice.folds)} folds)")
    return choice.epochs


def _fit_fold(
    config: dict[str, Any], fold: SequenceDataModule, history: Callback, run_dir: Path
) -> None:
    """One cross-validation fit (protocol=cv_epochs): every epoch, nothing saved or logged."""
    L.seed_everything(config["seed"], workers=True, verbose=False)
    options = {**config["trainer"], "enable_checkpointing": False}
    trainer = build_trainer(options, run_dir, [history, NonFiniteGuard()], [])
    trainer.fit(_module(config, fold), datamodule=fold)


def _trained_epochs(ckpt_path: str) -> int:
    """The number of epochs the checkpoint's weights were trained for."""
    checkpoint = torch.load(ckpt_path, map_location="cpu", weights_only=True)
    return int(checkpoint["epoch"]) + 1


def evaluate(config: dict[str, Any]) -> dict[str, float]:
    if config.get("input") is not None:
        from seqlab.training.predict import evaluate_input

        return evaluate_input(config)
    log_lightning_once()
    quiet_known_warnings()
    run_dir = Path(config["paths"]["output_dir"])
    L.seed_everything(config["seed"], workers=True, verbose=False)
    module, _ = load_module(config["ckpt_path"])
    hparams = module.hparams
    datamodule = build_datamodule(_local_data(config, hparams["data"]), module.task)
    generates = module.task == "generate"
    datamodule.setup("fit" if generates else "test")  # the baselines fit the training part
    require_same_meta(
        config["ckpt_path"],
        datamodule.meta.to_dict(),
        hparams,
        "evaluate on the data it was trained on",
    )
    if config["split"] == "val" and not datamodule.has_validation:
        raise SeqlabError(
            f"{config['ckpt_path']}: trained with data.protocol={datamodule.protocol}, which "
            "keeps no validation part; evaluate split=test"
        )
    try:
        loggers = build_loggers(config["logger"], run_dir, config)
        callbacks = _test_callbacks(config["logger"], run_dir, datamodule)
        trainer = build_trainer(config["trainer"], run_dir, callbacks, loggers)
        run = trainer.validate if config["split"] == "val" else trainer.test
        metrics = floats(run(module, datamodule=datamodule, verbose=False)[0])
        if generates and config["split"] == "test" and trainer.is_global_zero:
            # as the training run scored its best checkpoint: its task's sampling settings,
            # this command's seed
            trained = {key: hparams[key] for key in ("data", "task", "metrics")}
            metrics |= _futures(
                module, datamodule, {**trained, "seed": config["seed"]}, run_dir, trainer
            )
        write_rank_zero_metrics(run_dir, metrics, trainer)
    finally:
        finish_wandb()
    return metrics


def _test_callbacks(
    logger: dict[str, Any], run_dir: Path, datamodule: SequenceDataModule
) -> list[Callback]:
    """Plots and the prediction table of classified samples or steps; task=generate draws
    its own curves (training/generate.py)."""
    if datamodule.task == "generate":
        return []
    return [
        TestPlots(run_dir / PLOTS_DIR, datamodule.meta.class_names),
        _prediction_table(logger, run_dir, datamodule),
    ]


def _futures(
    module: L.LightningModule,
    datamodule: SequenceDataModule,
    config: dict[str, Any],
    run_dir: Path,
    trainer: L.Trainer,
) -> dict[str, float]:
    """The best checkpoint's sampled futures against BG/NBD on the test entities; text: the
    unigram baseline's perplexities on the test messages."""
    from seqlab.training.generate import futures_report

    if config["data"]["kind"] == "text":
        from seqlab.training.generate_text import unigram_report

        assert datamodule.splits is not None  # set up by fit
        meta, fitted = datamodule.meta, datamodule.fitted_state()
        report = unigram_report(datamodule.splits, meta.num_classes, fitted["conditions"])
        log_summary(trainer.loggers, report, trainer.global_step)
        return report
    report = futures_report(
        module,  # type: ignore[arg-type]
        datamodule.weekly,  # type: ignore[attr-defined]
        datamodule.entity_splits["test"],  # type: ignore[attr-defined]
        config,
        run_dir,
        trainer.loggers,
    )
    log_summary(trainer.loggers, report, trainer.global_step)
    return report


def _prediction_table(
    logger: dict[str, Any], run_dir: Path, datamodule: SequenceDataModule
) -> SplitPredictionTable:
    return SplitPredictionTable(
        run_dir / PLOTS_DIR,
        datamodule.meta.class_names,
        # a hand-written config (an evaluation from Python) may leave the option out; a row
        # per sample, which task=tag (a prediction per step) does not fit
        rows=0
        if datamodule.task == "tag"
        else logger["wandb"].get("prediction_rows", WandbConfig.prediction_rows),
        texts=datamodule.sample_texts("test"),
    )


def _checkpoint_callback(cfg: dict, run_dir: Path) -> BestAndLastCheckpoint:
    return BestAndLastCheckpoint(
        dirpath=run_dir / CHECKPOINT_DIR,
        monitor=cfg["monitor"],
        mode=cfg["mode"],
        save_last=cfg["save_last"],
        tie_breaker=cfg["tie_breaker"],
        last_every_s=cfg["last_every_s"],
        filename="epoch{epoch:03d}",
        auto_insert_metric_name=False,
        # One run per run dir (training/run_state.py): a file of the same name is this run's
        # own, from before a resume, and is replaced rather than kept beside a "-v1" copy.
        enable_version_counter=False,
    )


def _other_callbacks(cfg: dict, run_dir: Path) -> list[Callback]:
    callbacks: list[Callback] = []
    if cfg["early_stopping"]["enabled"]:
        callbacks.append(
            EarlyStopping(
                monitor=cfg["checkpoint"]["monitor"],
                mode=cfg["checkpoint"]["mode"],
                patience=cfg["early_stopping"]["patience"],
            )
        )
    if cfg["progress_bar"]:
        callbacks.append(EpochMetricsProgressBar())
    gradients = dict(cfg["gradients"])
    if gradients.pop("enabled"):
        callbacks.append(GradientDiagnostics(run_dir=run_dir, **gradients))
    return callbacks + [_extra_callback(name, node) for name, node in cfg["extra"].items()]


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


def _local_data(config: dict[str, Any], data: dict[str, Any]) -> dict[str, Any]:
    """The checkpoint's data section with this command's data.root and data.cache_dir."""
    return to_dataclass(LocalDataConfig, config.get("data") or {}).apply(data)
