"""seqlab-predict, and seqlab-eval on a new file: a checkpoint alone labels new data.

checkpoint -> model + fitted preprocessing -> the data kind reads the input (data/prediction.py)
-> test steps (labelled input: the metrics of seqlab-eval) or predict steps, in one CPU process
seqlab's own loop, else Lightning's -> every rank's probabilities gathered on rank 0 by input
position -> predictions.csv (or .parquet), metrics.json.

task=tag predicts every step: the rows are the real steps of every input, back to back, and a
step's position is its input's first row plus its index (`_rows`).
"""

import logging
import sys
from pathlib import Path
from typing import Any

import lightning as L
import numpy as np
import torch
from lightning.pytorch.callbacks import Callback

from seqlab.config import EvalConfig, LocalDataConfig, PredictConfig
from seqlab.console import log_lightning_once, quiet_known_warnings
from seqlab.data.input_config import ReaderConfig
from seqlab.data.prediction import (
    IndexedBatch,
    PredictionData,
    PredictionDataModule,
    real_step_mask,
)
from seqlab.data.registry import build_datamodule
from seqlab.errors import SeqlabError
from seqlab.files import write_bytes_atomic
from seqlab.models.classifier import SequenceClassifier
from seqlab.models.config import MLPConfig, MLPInput
from seqlab.models.modules import labelling, load_module
from seqlab.models.tasks import TASKS
from seqlab.schema import plain, to_dataclass
from seqlab.training.ddp import is_launching_process
from seqlab.training.predictions_file import write_predictions
from seqlab.training.results import floats, write_metrics, write_rank_zero_metrics
from seqlab.training.trainer import build_trainer

log = logging.getLogger(__name__)

STDIN_FILE = "stdin.txt"  # input=- is saved here, in the run dir


def predict(config: PredictConfig) -> dict[str, float]:
    """Write predictions (and metrics.json when the input has labels); return the metrics."""
    log_lightning_once()
    quiet_known_warnings()
    run_dir = Path(config.paths.output_dir)
    L.seed_everything(config.seed, workers=True, verbose=False)
    module, _ = load_module(config.ckpt_path, labelling)
    # the checkpoint's hyperparameters: plain values (models/classifier.py says why)
    hparams = module.hparams
    source = _spool_stdin(config.input, hparams["data"]["kind"], run_dir, config.reader)
    data = read_input(module, config.ckpt_path, source, config.reader, config.data)
    batch_size = config.batch_size or hparams["data"]["batch_size"]
    datamodule = PredictionDataModule(data.dataset, batch_size)
    probabilities, metrics = predict_probabilities(
        module, datamodule, config.trainer, run_dir, data.labelled
    )
    if probabilities is not None:  # on rank 0 only
        path = write_predictions(
            run_dir,
            data,
            probabilities,
            hparams["meta"]["class_names"],
            config.output.format,
            config.output.top_k,
        )
        print(f"wrote {path} ({len(probabilities)} rows)")
        if metrics:
            write_metrics(run_dir, metrics)
    return metrics


def predict_probabilities(
    module: SequenceClassifier,
    datamodule: PredictionDataModule,
    trainer_options: dict[str, Any],
    run_dir: Path,
    labelled: bool = False,
) -> tuple[np.ndarray | None, dict[str, float]]:
    """Every input's (task=tag: every real step's) class probabilities in input order, on rank
    0 (None on other ranks), and with labels the test metrics of seqlab-eval (every rank; {}
    without labels)."""
    starts = None
    if TASKS[module.task].per_step:
        lengths = datamodule.dataset.lengths
        starts = torch.cumsum(lengths, dim=0) - lengths
    if _one_cpu_process(trainer_options):
        return _plain_loop(module, datamodule, labelled, starts)
    collector = PredictionCollector(starts)
    trainer = build_trainer(trainer_options, run_dir, [collector], [])
    metrics: dict[str, float] = {}
    if labelled:
        metrics = floats(trainer.test(module, datamodule=datamodule, verbose=False)[0])
    else:
        trainer.predict(module, datamodule=datamodule, return_predictions=False)
    return collector.probabilities, metrics


def _one_cpu_process(options: dict[str, Any]) -> bool:
    """One CPU process at full precision: Lightning's set-up of a test or predict call
    (strategy, loops, hooks, logging; tens of milliseconds, as much as the forward pass of a
    small input) buys nothing there, so the same steps run without it. Anything else goes
    through Lightning."""
    return (
        str(options.get("accelerator")) == "cpu"
        and str(options.get("devices", 1)) == "1"
        and str(options.get("num_nodes", 1)) == "1"
        and str(options.get("strategy", "auto")) == "auto"
        and str(options.get("precision", "32-true")) in ("32-true", "32")
    )


def _plain_loop(
    module: SequenceClassifier,
    datamodule: PredictionDataModule,
    labelled: bool,
    starts: torch.Tensor | None,
) -> tuple[np.ndarray, dict[str, float]]:
    """What trainer.test (labelled) or trainer.predict runs in one CPU process: with labels the
    module's own test_step and epoch metrics, so the figures are those of seqlab-eval."""
    module.eval()
    parts = []
    with torch.inference_mode():
        for batch_idx, batch in enumerate(datamodule.predict_dataloader()):
            if labelled:
                outputs = module.test_step(batch, batch_idx)
                assert outputs is not None  # a labelling task's module returns its predictions
                probabilities = _test_probabilities(outputs)
            else:
                probabilities = module(batch).float().softmax(dim=-1)
            parts.append(_rows(batch.index, batch.lengths, probabilities, starts))
        metrics = floats(module.epoch_metrics("test")) if labelled else {}
    ordered = in_input_order(
        torch.cat([i for i, _ in parts]).numpy(), torch.cat([p for _, p in parts]).numpy()
    )
    return ordered, metrics


def _test_probabilities(outputs: dict[str, torch.Tensor]) -> torch.Tensor:
    """A test step's probabilities of every input (task=tag: of every step, not only the
    labelled ones the metrics read)."""
    return outputs.get("step_probabilities", outputs["probabilities"])


def _rows(
    index: torch.Tensor,
    lengths: torch.Tensor,
    probabilities: torch.Tensor,
    starts: torch.Tensor | None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """A batch's rows of the output and their positions: one per input (classify), or with
    `starts` (each input's first row; task=tag) one per real step of each input."""
    if starts is None:
        return index, probabilities
    real = real_step_mask(lengths, probabilities.shape[1])
    steps = torch.arange(probabilities.shape[1])
    return (starts[index][:, None] + steps[None, :])[real], probabilities[real]


def in_input_order(index: np.ndarray, values: np.ndarray) -> np.ndarray:
    """values (one row per predicted input) put at their inputs' positions; each exactly once."""
    if len(np.unique(index)) != len(index) or (len(index) and index.max() != len(index) - 1):
        raise RuntimeError("an input was predicted twice or not at all")
    ordered = np.empty_like(values)
    ordered[index] = values
    return ordered


def evaluate_input(config: EvalConfig) -> dict[str, float]:
    """seqlab-eval input=<file>: the test metrics of a labelled file, as seqlab-predict gives."""
    from seqlab.training.callbacks.plots import TestPlots
    from seqlab.training.loggers import build_loggers, finish_wandb

    log_lightning_once()
    quiet_known_warnings()
    run_dir = Path(config.paths.output_dir)
    L.seed_everything(config.seed, workers=True, verbose=False)
    module, _ = load_module(config.ckpt_path, labelling)
    assert config.input is not None  # seqlab-eval input=<file> comes here
    data = read_input(module, config.ckpt_path, config.input, config.reader, config.data)
    if not data.labelled:
        raise SeqlabError(
            f"{config.input}: no labels found, so nothing to evaluate against; give a "
            "labelled file (reader.labels=true to insist), or use seqlab-predict"
        )
    try:
        plots = TestPlots(run_dir / "plots", module.hparams["meta"]["class_names"])
        loggers = build_loggers(config.logger, run_dir, plain(config))
        trainer = build_trainer(config.trainer, run_dir, [plots], loggers)
        datamodule = PredictionDataModule(data.dataset, module.hparams["data"]["batch_size"])
        metrics = floats(trainer.test(module, datamodule=datamodule, verbose=False)[0])
        write_rank_zero_metrics(run_dir, metrics, trainer)
    finally:
        finish_wandb()
    return metrics


def _spool_stdin(source: str, kind: str, run_dir: Path, reader: ReaderConfig) -> str:
    """input=-: standard input is saved in the run dir and read from there, by the ranks that
    DDP launches too (they cannot read the stream the launching process has consumed)."""
    if source != "-":
        return source
    if kind != "text":
        raise SeqlabError(
            f"input=-: standard input carries text lines, but the checkpoint's data is {kind}; "
            "pass input=<file>"
        )
    path = run_dir / STDIN_FILE
    if is_launching_process():
        write_bytes_atomic(path, sys.stdin.buffer.read())
    if reader.format is None:
        reader.format = "lines"
    return str(path)


def read_input(
    module: SequenceClassifier,
    ckpt_path: str,
    source: str,
    reader: ReaderConfig,
    local: LocalDataConfig | None = None,
) -> PredictionData:
    """The input read by the checkpoint's data kind with the checkpoint's fitted state, checked
    against what the model can take."""
    from seqlab.data.meta import DataMeta

    hparams = module.hparams
    fitted = hparams.get("fitted")
    if fitted is None:
        raise SeqlabError(
            f"{ckpt_path}: written before checkpoints carried their fitted preprocessing; "
            f"re-export it once, with its training data in place: seqlab-export "
            f"ckpt_path={ckpt_path} format=ckpt"
        )
    meta = DataMeta.from_dict(hparams["meta"])
    local = local or LocalDataConfig()  # the user's cache folder, the checkpoint's data.root
    datamodule = build_datamodule(local.apply(hparams["data"]), module.task)
    data = datamodule.prediction_data(fitted, meta, source, reader)
    _check_lengths(hparams["model"], meta.max_length, fitted.get("length"), data)
    return data


def _check_lengths(model: dict, max_length: int, fixed: int | None, data: PredictionData) -> None:
    """An MLP that flattens its input has one input width: sequences up to the longest of
    training (or exactly the one length of fixed-length training data)."""
    if model["kind"] != "mlp" or to_dataclass(MLPConfig, model).input != MLPInput.flatten:
        return
    lengths = data.dataset.lengths
    bad = (lengths != fixed) if fixed is not None else (lengths > max_length)
    if bool(bad.any()):
        row = int(torch.nonzero(bad)[0])
        expected = f"exactly {fixed}" if fixed is not None else f"at most {max_length}"
        raise SeqlabError(
            f"input {data.ids[row]} has {int(lengths[row])} steps; the MLP (model.input="
            f"flatten) takes {expected}: give series of that length or use a recurrent model"
        )


class PredictionCollector(Callback):
    """Every input's class probabilities, gathered from all ranks onto rank 0 in input order
    (with `starts`, task=tag: every real step's; see `_rows`)."""

    def __init__(self, starts: torch.Tensor | None = None) -> None:
        self.starts = starts
        self.probabilities: np.ndarray | None = None
        self._parts: list[tuple[torch.Tensor, torch.Tensor]] = []

    def on_test_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._parts, self.probabilities = [], None

    def on_predict_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._parts, self.probabilities = [], None

    def on_test_batch_end(self, trainer, pl_module, outputs, batch, batch_idx, dataloader_idx=0):
        self._keep(batch, _test_probabilities(outputs).detach().float())

    def on_predict_batch_end(self, trainer, pl_module, outputs, batch, batch_idx, dataloader_idx=0):
        self._keep(batch, outputs.detach().float().softmax(dim=-1))

    def _keep(self, batch: IndexedBatch, probabilities: torch.Tensor) -> None:
        rows = _rows(batch.index.cpu(), batch.lengths.cpu(), probabilities.cpu(), self.starts)
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
