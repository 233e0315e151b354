"""The two runs seqlab knows, from a validated config to metrics.json.

train:    data -> meta -> model -> Trainer.fit -> Trainer.test(best checkpoint) -> metrics.json
evaluate: checkpoint -> model + data config -> Trainer.test -> metrics.json
"""

import json
from pathlib import Path
from typing import Any

import lightning as L
from lightning.pytorch.callbacks import Callback, EarlyStopping, RichProgressBar

from seqlab.callbacks.checkpoint import TieBreakingCheckpoint
from seqlab.console import print_metrics_table, print_parameter_table
from seqlab.data import build_datamodule
from seqlab.errors import SeqlabError
from seqlab.loggers import build_loggers, finish_wandb
from seqlab.models.classifier import SequenceClassifier, load_classifier
from seqlab.models.summary import layer_parameters

METRICS_FILE = "metrics.json"


def train(config: dict[str, Any]) -> dict[str, float]:
    run_dir = Path(config["paths"]["output_dir"])
    L.seed_everything(config["seed"], workers=True, verbose=False)
    datamodule = build_datamodule(config["data"])
    datamodule.setup("fit")
    module = SequenceClassifier(
        model=config["model"],
        meta=datamodule.meta.to_dict(),
        optim=config["optim"],
        metrics=config["metrics"],
        data=config["data"],
    )
    checkpoint = _checkpoint_callback(config["callbacks"]["checkpoint"], run_dir)
    try:
        callbacks = [checkpoint, *_other_callbacks(config["callbacks"])]
        trainer = _trainer({**config, "meta": module.hparams.meta}, run_dir, callbacks)
        if trainer.is_global_zero and config["trainer"].get("enable_model_summary", True):
            print_parameter_table(layer_parameters(module))
        trainer.fit(module, datamodule=datamodule, ckpt_path=config["ckpt_path"])
        best_val = {
            k: float(v)
            for k, v in trainer.callback_metrics.items()
            if k.startswith("val/") and k.endswith("_best")
        }
        best_path = checkpoint.best_model_path or None
        tested = trainer.test(
            module, datamodule=datamodule, ckpt_path=best_path, verbose=False, weights_only=True
        )
        metrics = {**_floats(tested[0]), **dict(sorted(best_val.items()))}
        _write_metrics(run_dir, metrics, trainer)
    finally:
        finish_wandb()
    return metrics


def evaluate(config: dict[str, Any]) -> dict[str, float]:
    run_dir = Path(config["paths"]["output_dir"])
    L.seed_everything(config["seed"], workers=True, verbose=False)
    module, _ = load_classifier(config["ckpt_path"])
    datamodule = build_datamodule(module.hparams.data)
    datamodule.setup("test")
    if datamodule.meta.to_dict() != module.hparams.meta:
        raise SeqlabError(
            f"{config['ckpt_path']}: the data no longer matches the checkpoint "
            "(classes, channels or length changed); evaluate on the data it was "
            "trained on"
        )
    try:
        trainer = _trainer(config, run_dir, callbacks=[])
        tested = trainer.test(module, datamodule=datamodule, verbose=False)
        metrics = _floats(tested[0])
        _write_metrics(run_dir, metrics, trainer)
    finally:
        finish_wandb()
    return metrics


def _trainer(config: dict[str, Any], run_dir: Path, callbacks: list[Callback]) -> L.Trainer:
    loggers = build_loggers(config["logger"], run_dir, config)
    options = dict(config["trainer"])
    if not any(isinstance(c, RichProgressBar) for c in callbacks):
        options.setdefault("enable_progress_bar", False)
    try:
        return L.Trainer(
            default_root_dir=run_dir, logger=loggers or False, callbacks=callbacks, **options
        )
    except TypeError as error:
        raise SeqlabError(
            f"config: trainer: {error}; keys under trainer are lightning.Trainer arguments"
        ) from None


def _checkpoint_callback(cfg: dict, run_dir: Path) -> TieBreakingCheckpoint:
    return TieBreakingCheckpoint(
        dirpath=run_dir / "checkpoints",
        monitor=cfg["monitor"],
        mode=cfg["mode"],
        save_last=cfg["save_last"],
        tie_breaker=cfg["tie_breaker"],
        filename="epoch{epoch:03d}",
        auto_insert_metric_name=False,
    )


def _other_callbacks(cfg: dict) -> list[Callback]:
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
        callbacks.append(RichProgressBar())
    return callbacks


def _floats(values: dict[str, Any]) -> dict[str, float]:
    return {name: float(value) for name, value in sorted(values.items())}


def _write_metrics(run_dir: Path, metrics: dict[str, float], trainer: L.Trainer) -> None:
    if not trainer.is_global_zero:
        return
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / METRICS_FILE).write_text(json.dumps(metrics, indent=2) + "\n")
    print_metrics_table(metrics, title=f"{run_dir / METRICS_FILE}")
