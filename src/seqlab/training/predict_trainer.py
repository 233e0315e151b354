"""seqlab-predict and seqlab-eval input= through Lightning's Trainer: several processes (DDP),
a GPU or another precision, and seqlab-eval's loggers and test plots. The same loader, steps and
metrics as the plain loop of training/predict.py; every rank's probabilities gathered on rank 0.
"""

from pathlib import Path
from typing import Any

import lightning as L
import numpy as np
import torch
from lightning.pytorch.callbacks import Callback
from torch.utils.data import DataLoader

from seqlab.config import EvalConfig
from seqlab.console import log_lightning_once, quiet_known_warnings
from seqlab.data.batch import SequenceDataset
from seqlab.data.prediction import (
    IndexedBatch,
    PredictionData,
    in_input_order,
    prediction_loader,
    rows_of,
)
from seqlab.errors import SeqlabError
from seqlab.models.classifier import SequenceClassifier
from seqlab.models.modules import labelling, load_module
from seqlab.models.network import SequenceNetwork
from seqlab.schema import plain
from seqlab.training.predict_input import read_input
from seqlab.training.results import floats, write_rank_zero_metrics
from seqlab.training.trainer import build_trainer


def seed_for_trainer(seed: int) -> None:
    log_lightning_once()
    L.seed_everything(seed, workers=True, verbose=False)


class PredictionDataModule(L.LightningDataModule):
    """The prediction loader for trainer.test (labelled input) and trainer.predict."""

    def __init__(self, dataset: SequenceDataset, batch_size: int, num_workers: int = 0):
        super().__init__()
        self.dataset, self.batch_size, self.num_workers = dataset, batch_size, num_workers

    def test_dataloader(self) -> DataLoader:
        return prediction_loader(self.dataset, self.batch_size, self.num_workers)

    def predict_dataloader(self) -> DataLoader:
        return self.test_dataloader()


def trainer_probabilities(
    module: SequenceNetwork,
    data: PredictionData,
    batch_size: int,
    trainer_options: dict[str, Any],
    run_dir: Path,
    starts: torch.Tensor | None,
) -> tuple[np.ndarray | None, dict[str, float]]:
    """training/predict.py's predict_probabilities through a Trainer; `module` is the
    checkpoint's LightningModule."""
    assert isinstance(module, SequenceClassifier)  # load_model gives one where a Trainer runs
    collector = PredictionCollector(starts)
    trainer = build_trainer(trainer_options, run_dir, [collector], [])
    datamodule = PredictionDataModule(data.dataset, batch_size)
    metrics: dict[str, float] = {}
    if data.labelled:
        metrics = floats(trainer.test(module, datamodule=datamodule, verbose=False)[0])
    else:
        trainer.predict(module, datamodule=datamodule, return_predictions=False)
    return collector.probabilities, metrics


def evaluate_input(config: EvalConfig) -> dict[str, float]:
    """seqlab-eval input=<file>: the test metrics of a labelled file, as seqlab-predict gives,
    with seqlab-eval's loggers and test plots."""
    from seqlab.training.callbacks.plots import TestPlots
    from seqlab.training.loggers import build_loggers, finish_wandb

    quiet_known_warnings()
    run_dir = Path(config.paths.output_dir)
    seed_for_trainer(config.seed)
    module, checkpoint = load_module(config.ckpt_path, labelling)
    hparams = checkpoint["hyper_parameters"]
    assert config.input is not None  # seqlab-eval input=<file> comes here
    data = read_input(hparams, config.ckpt_path, config.input, config.reader, config.data)
    if not data.labelled:
        raise SeqlabError(
            f"{config.input}: no labels found, so nothing to evaluate against; give a "
            "labelled file (reader.labels=true to insist), or use seqlab-predict"
        )
    try:
        plots = TestPlots(run_dir / "plots", hparams["meta"]["class_names"])
        loggers = build_loggers(config.logger, run_dir, plain(config))
        trainer = build_trainer(config.trainer, run_dir, [plots], loggers)
        datamodule = PredictionDataModule(data.dataset, hparams["data"]["batch_size"])
        metrics = floats(trainer.test(module, datamodule=datamodule, verbose=False)[0])
        write_rank_zero_metrics(run_dir, metrics, trainer)
    finally:
        finish_wandb()
    return metrics


def test_probabilities(outputs: dict[str, torch.Tensor]) -> torch.Tensor:
    """A test step's probabilities of every input (task=tag: of every step, not only the
    labelled ones the metrics read)."""
    return outputs.get("step_probabilities", outputs["probabilities"])


class PredictionCollector(Callback):
    """Every input's class probabilities, gathered from all ranks onto rank 0 in input order
    (with `starts`, task=tag: every real step's; see `rows_of`)."""

    def __init__(self, starts: torch.Tensor | None = None) -> None:
        self.starts = starts
        self.probabilities: np.ndarray | None = None
        self._parts: list[tuple[torch.Tensor, torch.Tensor]] = []

    def on_test_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._parts, self.probabilities = [], None

    def on_predict_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._parts, self.probabilities = [], None

    def on_test_batch_end(self, trainer, pl_module, outputs, batch, batch_idx, dataloader_idx=0):
        self._keep(batch, test_probabilities(outputs).detach().float())

    def on_predict_batch_end(self, trainer, pl_module, outputs, batch, batch_idx, dataloader_idx=0):
        self._keep(batch, outputs.detach().float().softmax(dim=-1))

    def _keep(self, batch: IndexedBatch, probabilities: torch.Tensor) -> None:
        rows = rows_of(batch.index.cpu(), batch.lengths.cpu(), probabilities.cpu(), self.starts)
        self._parts.append(rows)

    def on_test_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._gather(trainer)

    def on_predict_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._gather(trainer)

    def _gather(self, trainer: L.Trainer) -> None:
        index = torch.cat([i for i, _ in self._parts]).numpy()
        values = torch.cat([p for _, p in self._parts]).numpy()
        if trainer.world_size > 1:
            import torch.distributed as dist

            shares: list[Any] = [None] * dist.get_world_size()
            dist.all_gather_object(shares, (index, values))
            index = np.concatenate([share[0] for share in shares])
            values = np.concatenate([share[1] for share in shares])
        if trainer.is_global_zero:
            self.probabilities = in_input_order(index, values)
