"""seqlab-predict, and seqlab-eval on a new file: a checkpoint alone labels new data.

checkpoint -> network + fitted preprocessing -> the data kind reads the input
(data/prediction.py) -> test steps (labelled input: the metrics of seqlab-eval) or forward
passes -> every rank's probabilities gathered on rank 0 by input position -> predictions.csv
(or .parquet), metrics.json.

In one CPU process at full precision the network runs alone (models/network.py), in seqlab's
own loop: neither Lightning nor W&B is imported, which would cost seconds, more than predicting
a test file. Anything else (several processes, a GPU, another precision) goes through
Lightning's Trainer (training/predict_trainer.py) with the same loader, steps and metrics.

task=tag predicts every step: the rows are the real steps of every input, back to back, and a
step's position is its input's first row plus its index (`rows_of`).
"""

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from seqlab.config import PredictConfig
from seqlab.console import quiet_known_warnings
from seqlab.data.prediction import (
    IndexedBatch,
    PredictionData,
    in_input_order,
    prediction_loader,
    rows_of,
)
from seqlab.metrics.scores import EpochScores
from seqlab.models.modules import labelling, load_module, load_network
from seqlab.models.network import SequenceNetwork
from seqlab.models.tasks import TASKS
from seqlab.training.predict_input import read_input, spool_stdin
from seqlab.training.predictions_file import write_predictions
from seqlab.training.results import floats, write_metrics


def predict(config: PredictConfig) -> dict[str, float]:
    """Write predictions (and metrics.json when the input has labels); return the metrics."""
    quiet_known_warnings()
    run_dir = Path(config.paths.output_dir)
    model, checkpoint = load_model(config.ckpt_path, config.trainer, config.seed)
    hparams = checkpoint["hyper_parameters"]
    source = spool_stdin(config.input, hparams["data"]["kind"], run_dir, config.reader)
    data = read_input(hparams, config.ckpt_path, source, config.reader, config.data)
    batch_size = config.batch_size or hparams["data"]["batch_size"]
    probabilities, metrics = predict_probabilities(model, data, batch_size, config.trainer, run_dir)
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


def load_model(
    ckpt_path: str, trainer_options: dict[str, Any], seed: int
) -> tuple[SequenceNetwork, dict[str, Any]]:
    """The checkpoint's network, alone in one CPU process (nothing random runs there), else its
    LightningModule, seeded, for a Trainer."""
    if one_cpu_process(trainer_options):
        return load_network(ckpt_path, labelling)
    from seqlab.training.predict_trainer import seed_for_trainer

    seed_for_trainer(seed)
    return load_module(ckpt_path, labelling)


def predict_probabilities(
    model: SequenceNetwork,
    data: PredictionData,
    batch_size: int,
    trainer_options: dict[str, Any],
    run_dir: Path,
) -> tuple[np.ndarray | None, dict[str, float]]:
    """Every input's (task=tag: every real step's) class probabilities in input order, on rank
    0 (None on other ranks), and with labels the test metrics of seqlab-eval (every rank; {}
    without labels). `model`: from `load_model` with the same options."""
    starts = None
    if TASKS[model.task].per_step:
        lengths = data.dataset.lengths
        starts = torch.cumsum(lengths, dim=0) - lengths
    if one_cpu_process(trainer_options):
        loader = prediction_loader(data.dataset, batch_size)
        return _plain_loop(model, loader, data.labelled, starts)
    from seqlab.training.predict_trainer import trainer_probabilities

    return trainer_probabilities(model, data, batch_size, trainer_options, run_dir, starts)


def one_cpu_process(options: dict[str, Any]) -> bool:
    """One CPU process at full precision: Lightning's set-up of a test or predict call
    (strategy, loops, hooks, logging) and its import buy nothing there, so the same steps run
    without it. Anything else goes through Lightning."""
    return (
        str(options.get("accelerator")) == "cpu"
        and str(options.get("devices", 1)) == "1"
        and str(options.get("num_nodes", 1)) == "1"
        and str(options.get("strategy", "auto")) == "auto"
        and str(options.get("precision", "32-true")) in ("32-true", "32")
    )


def _plain_loop(
    network: SequenceNetwork,
    loader: Iterable[IndexedBatch],
    labelled: bool,
    starts: torch.Tensor | None,
) -> tuple[np.ndarray, dict[str, float]]:
    """What trainer.test (labelled) or trainer.predict runs in one CPU process: the network's
    forward pass and, with labels, its score of each batch, gathered by seqlab.metrics.scores
    into the figures seqlab-eval gives (tests/test_predict.py holds them equal)."""
    network.eval()
    scores = EpochScores(network.num_classes, network.average)
    parts = []
    with torch.inference_mode():
        for batch in loader:
            output = network(batch)
            if labelled:
                scored = network.score(output, batch.labels)
                probabilities = scored.logits.float().softmax(dim=-1)
                scores.update(probabilities, scored.labels, scored.loss, scored.exact)
            # every input's (task=tag: every step's) probabilities, labelled or not
            predicted = output.float().softmax(dim=-1)
            parts.append(rows_of(batch.index, batch.lengths, predicted, starts))
    ordered = in_input_order(
        torch.cat([i for i, _ in parts]).numpy(), torch.cat([p for _, p in parts]).numpy()
    )
    return ordered, floats(scores.compute("test/")) if labelled else {}
