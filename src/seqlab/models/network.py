"""The trained network without Lightning or torchmetrics: what seqlab-predict, seqlab-eval
input= and seqlab-export run in one CPU process, and the base of the LightningModules that
train it (models/classifier.py, models/tagger.py).

SequenceNetwork: inputs (numbers and embeddings) -> encoder -> linear head on the pooled
sequence, and the loss of a batch (`score`). TaggerNetwork (task=tag): the head on every step,
scored over the labelled steps. Both take the plain dicts a checkpoint stores and hold the same
submodules as the LightningModules built on them, so one checkpoint loads into either
(models/modules.py); importing Lightning and torchmetrics costs seconds, more than predicting a
test file. The metric states (seqlab.metrics.state) are the LightningModules'; seqlab-predict's own
loop keeps seqlab.metrics.scores.EpochScores.
"""

from dataclasses import dataclass
from typing import Any, cast

import torch
from torch import nn

from seqlab.data.batch import Batch
from seqlab.data.meta import DataMeta
from seqlab.errors import SeqlabError
from seqlab.models.inputs import InputLayer
from seqlab.models.registry import build_encoder
from seqlab.models.steps import per_step_encoder, real_steps, step_loss
from seqlab.models.tasks import task_of


@dataclass(frozen=True)
class Scored:
    """What a batch's output is scored on: the logits and labels the metrics read (task=tag:
    the labelled steps, flattened), the loss, and with a label per step, per sequence whether
    every labelled step is right (1.0) or not (0.0)."""

    logits: torch.Tensor
    labels: torch.Tensor
    loss: torch.Tensor
    exact: torch.Tensor | None = None


class SequenceNetwork(nn.Module):
    def __init__(
        self,
        model: dict,
        meta: dict,
        optim: dict,
        metrics: dict,
        data: dict | None = None,
        fitted: dict | None = None,
        task: dict | None = None,
    ):
        """The hyperparameters a checkpoint stores; `data` and `fitted` are not used here (they
        let evaluation rebuild the test split, and prediction preprocess a new file: scaler
        statistics, tokeniser, id maps), nor `optim` beyond its class weights, nor `metrics`
        beyond its average."""
        super().__init__()
        data_meta = DataMeta.from_dict(meta)
        self.inputs = InputLayer(
            data_meta,
            model["embedding_dim"],
            model["embedding_dropout"],
            model["freeze_embeddings"],
        )
        self.encoder = build_encoder(model, data_meta, self.inputs.output_dim)
        self.task = task_of(task).name
        self.head = nn.Sequential(
            nn.Dropout(model.get("dropout", 0.0)),
            # every encoder sets output_dim, an int (models/registry.py)
            nn.Linear(cast(int, self.encoder.output_dim), data_meta.num_classes),
        )
        self.loss_fn = nn.CrossEntropyLoss(weight=_class_weights(optim, data_meta))
        self.average = metrics["average"]
        self.num_classes = data_meta.num_classes

    def forward(self, batch: Batch) -> torch.Tensor:
        """Class logits for a batch."""
        steps = self.inputs(batch.inputs, batch.categories)
        return self.head(self.encoder(steps, batch.lengths))

    def score(self, output: torch.Tensor, labels: torch.Tensor) -> Scored:
        """One class per sequence here (TaggerNetwork scores every labelled step)."""
        return Scored(output, labels, self.loss_fn(output, labels))


class TaggerNetwork(SequenceNetwork):
    """task=tag: the head on every step's output; loss over the labelled steps."""

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.encoder = per_step_encoder(self.encoder)

    def score(self, output: torch.Tensor, labels: torch.Tensor) -> Scored:
        logits, labels, exact = real_steps(output, labels)
        return Scored(logits, labels, step_loss(self.loss_fn, logits, labels), exact)


def _class_weights(optim: dict, meta: DataMeta) -> torch.Tensor | None:
    weights = optim.get("class_weights")
    if weights is None:
        return None
    if len(weights) != meta.num_classes:
        raise SeqlabError(
            f"optim.class_weights has {len(weights)} values but the data has "
            f"{meta.num_classes} classes {list(meta.class_names)}; give one each"
        )
    return torch.tensor(weights, dtype=torch.float32)
