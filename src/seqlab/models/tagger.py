"""task=tag: the classifier's head on every step's hidden state, scored over real steps only.

The encoder hands over its per-step outputs (batch, time, features) instead of a pooled
vector, and the same linear head maps each step to class logits. Loss and metrics then see the
steps flattened, without padding and censored steps (labels IGNORE_LABEL), so they are the
five classification metrics over every labelled step of the split; `test/seq_exact` adds the
share of sequences whose labelled steps are all right. The per-step network and its loss are
TaggerNetwork's (models/network.py).
"""

from typing import Any, cast

import torch
from torch import nn
from torchmetrics import MeanMetric

from seqlab.data.batch import IGNORE_LABEL, Batch
from seqlab.layout import SPLITS
from seqlab.models.classifier import SequenceClassifier
from seqlab.models.network import TaggerNetwork


class SequenceTagger(TaggerNetwork, SequenceClassifier):
    """task=tag trained by Lightning: TaggerNetwork's per-step head and loss; the five metrics
    over the labelled steps, and `{split}/seq_exact`, the share of sequences with every labelled
    step right."""

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.split_exact = nn.ModuleDict({f"{split}_": MeanMetric() for split in SPLITS})

    def scored(
        self, output: torch.Tensor, labels: torch.Tensor, split: str
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        scored = self.score(output, labels)
        if scored.exact is not None and len(scored.exact):
            cast(MeanMetric, self.split_exact[f"{split}_"]).update(scored.exact)
        return scored.logits, scored.labels, scored.loss

    def test_step(self, batch: Batch, batch_idx: int) -> dict[str, torch.Tensor] | None:
        """Also every step's probabilities, censored and padding ones too (seqlab-predict)."""
        _, probabilities, output = self._step(batch, "test")
        return {
            "probabilities": probabilities,
            "labels": batch.labels[batch.labels != IGNORE_LABEL],
            "step_probabilities": output.detach().float().softmax(dim=-1),
        }

    def epoch_metrics(self, split: str) -> dict[str, torch.Tensor]:
        values = super().epoch_metrics(split)
        exact = cast(MeanMetric, self.split_exact[f"{split}_"])
        values[f"{split}/seq_exact"] = exact.compute()
        exact.reset()
        return values
