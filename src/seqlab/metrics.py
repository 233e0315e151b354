"""The five classification metrics of a split, for two classes or many, from one state.

Each split keeps one `SplitMetrics`: a confusion matrix (summed across processes) and every
probability with its label (gathered across processes), updated once per batch and synchronised
once per epoch. Accuracy, precision, recall and F1 are derived from the counts in float64, AUROC
from the probabilities, exactly (no thresholds binning), by torchmetrics' functional AUROC. The
values equal torchmetrics' own metric classes (zero divisions and classes absent from an epoch
included; tests/test_metrics.py) and are clamped to [0, 1], which float32 arithmetic can leave
by one unit in the last place.

Accuracy is always the plain share of correct predictions; precision, recall, F1 and AUROC
follow `average` (macro by default, so two-class and many-class runs read the same way, or
`binary` for the positive class of two-class data, predicted where its probability exceeds 0.5).
"""

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torchmetrics import Metric
from torchmetrics.functional.classification import binary_auroc, multiclass_auroc
from torchmetrics.utilities.data import dim_zero_cat

from seqlab.config import Average
from seqlab.errors import SeqlabError


@dataclass(frozen=True)
class EpochState:
    """A split's epoch from every process: what each metric is derived from."""

    confusion: torch.Tensor  # (classes, classes) float64 counts; rows true, columns predicted
    scores: torch.Tensor  # binary: the positive class's probability; else (samples, classes)
    labels: torch.Tensor
    average: str

    @property
    def tp(self) -> torch.Tensor:
        return self.confusion.diagonal()

    @property
    def fp(self) -> torch.Tensor:
        return self.confusion.sum(0) - self.tp

    @property
    def fn(self) -> torch.Tensor:
        return self.confusion.sum(1) - self.tp


def _divide(numerator: torch.Tensor, denominator: torch.Tensor) -> float:
    """torchmetrics' zero_division=0: 0/0 counts as 0."""
    return float(numerator / denominator) if denominator else 0.0


def _averaged(state: EpochState, numerator: torch.Tensor, denominator: torch.Tensor) -> float:
    """Per-class numerator / denominator combined as torchmetrics combines them for `average`."""
    if state.average == "binary":
        return _divide(numerator[1], denominator[1])
    if state.average == "micro":
        return _divide(numerator.sum(), denominator.sum())
    scores = torch.where(denominator != 0, numerator / denominator, 0.0)
    if state.average == "weighted":
        weights = state.tp + state.fn
    else:  # macro leaves out a class neither predicted nor present, as torchmetrics does
        weights = (state.tp + state.fp + state.fn != 0).double()
    return _divide((weights * scores).sum(), weights.sum())


def _auroc(state: EpochState) -> float:
    if state.average == "binary":
        return float(binary_auroc(state.scores, state.labels, validate_args=False))
    return float(
        multiclass_auroc(
            state.scores,
            state.labels,
            num_classes=len(state.confusion),
            # one-vs-rest AUROC has no micro average; macro is the closest honest summary
            average="macro" if state.average == "micro" else state.average,  # type: ignore[arg-type]
            validate_args=False,
        )
    )


# name -> how it is derived from a split's epoch. A new metric is one entry here (a function of
# the confusion matrix or of the probabilities and labels): runs log it as {split}/<name> and
# keep val/<name>_best.
METRICS: dict[str, Callable[[EpochState], float]] = {
    "acc": lambda s: _divide(s.tp.sum(), s.confusion.sum()),
    "precision": lambda s: _averaged(s, s.tp, s.tp + s.fp),
    "recall": lambda s: _averaged(s, s.tp, s.tp + s.fn),
    "f1": lambda s: _averaged(s, 2 * s.tp, 2 * s.tp + s.fp + s.fn),
    "auroc": _auroc,
}
METRIC_NAMES = tuple(METRICS)


class SplitMetrics(Metric):
    """The metrics of one split under `{prefix}<name>`: one state, one gather per epoch.

    `update` takes the class probabilities (samples, classes) and the labels of a batch;
    `compute` returns {prefix}<name> -> a float32 scalar on the state's device. `sync=False`:
    computed from this process's updates alone, where only one process of a distributed run
    scores (no other would join the gather)."""

    is_differentiable = False
    higher_is_better = True
    full_state_update = False  # the batch's values in forward() need only the batch

    confusion: torch.Tensor
    scores: list[torch.Tensor] | torch.Tensor
    labels: list[torch.Tensor] | torch.Tensor

    def __init__(self, num_classes: int, average: str, prefix: str, sync: bool = True):
        super().__init__(sync_on_compute=sync)
        if average not in set(Average):
            raise SeqlabError(
                f"metrics.average={average!r} is unknown; use one of {[a.value for a in Average]}"
            )
        if average == "binary" and num_classes != 2:
            raise SeqlabError(
                f"metrics.average=binary needs two classes, the data has "
                f"{num_classes}; use macro, micro or weighted"
            )
        self.num_classes, self.average, self.prefix = num_classes, average, prefix
        zeros = torch.zeros(num_classes, num_classes, dtype=torch.long)
        self.add_state("confusion", zeros, dist_reduce_fx="sum")
        self.add_state("scores", [], dist_reduce_fx="cat")
        self.add_state("labels", [], dist_reduce_fx="cat")

    def update(self, probabilities: torch.Tensor, labels: torch.Tensor) -> None:
        labels = labels.long()
        if self.average == "binary":
            # torchmetrics' binary metrics: the positive class where its probability exceeds 0.5
            scores = probabilities[:, 1]
            predicted = (scores > 0.5).long()
        else:
            scores, predicted = probabilities, probabilities.argmax(dim=1)
        # scatter_add_ is deterministic (also on CUDA) and, unlike bincount, never waits for
        # the device
        cells = labels * self.num_classes + predicted
        self.confusion.view(-1).scatter_add_(0, cells, torch.ones_like(cells))
        self.scores.append(scores)  # type: ignore[union-attr]
        self.labels.append(labels)  # type: ignore[union-attr]

    def compute(self) -> dict[str, torch.Tensor]:
        state = EpochState(
            # float64 where every device has it (MPS has none); a (classes x classes) copy
            confusion=self.confusion.cpu().double(),
            scores=dim_zero_cat(self.scores),
            labels=dim_zero_cat(self.labels),
            average=self.average,
        )
        device = self.confusion.device
        return {
            f"{self.prefix}{name}": torch.tensor(
                min(max(derive(state), 0.0), 1.0), dtype=torch.float32, device=device
            )
            for name, derive in METRICS.items()
        }
