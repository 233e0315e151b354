"""The five classification metrics of a split, derived from one epoch's state, with torch alone.

A split's state is a confusion matrix and every probability with its label. Accuracy, precision,
recall and F1 come from the counts in float64, AUROC from the probabilities, exactly (no
threshold binning). The values equal torchmetrics' metric classes (zero divisions and classes
absent from an epoch included; tests/test_metrics.py) and are clamped to [0, 1], which float32
arithmetic can leave by one unit in the last place.

AUROC follows torchmetrics' exact computation step for step (its binary curve, trapezoids, and
the macro or support-weighted mean over one-vs-rest classes), so the values are the same to the
bit: importing torchmetrics costs seconds (SciPy's signal package and matplotlib), more than
seqlab-predict spends on a test file, and prediction imports this instead.
`seqlab.metrics.state.SplitMetrics` keeps the state across processes during training.

Accuracy is always the plain share of correct predictions; precision, recall, F1 and AUROC
follow `average` (macro by default, so two-class and many-class runs read the same way, or
`binary` for the positive class of two-class data, predicted where its probability exceeds 0.5).
"""

from collections.abc import Callable
from dataclasses import dataclass, field

import torch

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


def check_average(num_classes: int, average: str) -> None:
    if average not in set(Average):
        raise SeqlabError(
            f"metrics.average={average!r} is unknown; use one of {[a.value for a in Average]}"
        )
    if average == "binary" and num_classes != 2:
        raise SeqlabError(
            f"metrics.average=binary needs two classes, the data has "
            f"{num_classes}; use macro, micro or weighted"
        )


def batch_state(
    probabilities: torch.Tensor, labels: torch.Tensor, num_classes: int, average: str
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """A batch's confusion-matrix cells (label * classes + prediction, one per sample), the
    scores AUROC reads and the labels as integers."""
    labels = labels.long()
    if average == "binary":
        # torchmetrics' binary metrics: the positive class where its probability exceeds 0.5
        scores = probabilities[:, 1]
        predicted = (scores > 0.5).long()
    else:
        scores, predicted = probabilities, probabilities.argmax(dim=1)
    return labels * num_classes + predicted, scores, labels


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


def _binary_auroc(scores: torch.Tensor, positive: torch.Tensor) -> torch.Tensor:
    """The area under the exact ROC curve (one point per distinct score), as torchmetrics'
    binary_auroc computes it; a curve without positives or negatives is flat at 0."""
    order = torch.argsort(scores, descending=True)
    scores, target = scores[order], positive[order].long()
    distinct = torch.where(scores[1:] - scores[:-1])[0]
    last = torch.tensor([target.size(0) - 1], dtype=distinct.dtype, device=distinct.device)
    ends = torch.cat([distinct, last])
    tps = torch.cumsum(target * 1.0, dim=0)[ends]
    fps = 1 + ends - tps
    zero = torch.zeros(1, dtype=tps.dtype, device=tps.device)
    tps, fps = torch.cat([zero, tps]), torch.cat([zero, fps])
    fpr = fps / fps[-1] if fps[-1] > 0 else torch.zeros_like(fps)
    tpr = tps / tps[-1] if tps[-1] > 0 else torch.zeros_like(tps)
    return torch.trapz(tpr, fpr)


def _auroc(state: EpochState) -> float:
    if state.average == "binary":
        return float(_binary_auroc(state.scores, state.labels == 1))
    classes = len(state.confusion)
    per_class = torch.stack(
        [_binary_auroc(state.scores[:, c], state.labels == c) for c in range(classes)]
    )
    kept = ~torch.isnan(per_class)
    # one-vs-rest AUROC has no micro average; macro is the closest honest summary
    if state.average == "weighted":
        support = torch.bincount(state.labels, minlength=classes).float()[kept]
        total = support.sum()
        return float((per_class[kept] * (support / total if total else support)).sum())
    return float(per_class[kept].mean())


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


def mean_loss(losses: torch.Tensor, sizes: torch.Tensor) -> float:
    """The mean loss over samples from each step's mean loss and batch size, summed in float64:
    float32 products of a loss and a batch size add up exactly there, so the sum, and the
    float32 figure logged, do not depend on the order of the steps (one process, or several
    processes each holding a share)."""
    weights = sizes.cpu().double()
    return float((losses.detach().cpu().double() * weights).sum() / weights.sum())


def derive(state: EpochState) -> dict[str, float]:
    """Every metric of the epoch, clamped to [0, 1]."""
    return {name: min(max(metric(state), 0.0), 1.0) for name, metric in METRICS.items()}


@dataclass
class EpochScores:
    """One process's split scored batch by batch without torchmetrics (seqlab-predict's own
    loop): the metrics, the loss and, with a label per step, the share of sequences whose every
    labelled step is right, as the LightningModule's torchmetrics states give them."""

    num_classes: int
    average: str
    confusion: torch.Tensor = field(init=False)
    parts: list[tuple[torch.Tensor, torch.Tensor]] = field(default_factory=list)
    losses: list[tuple[torch.Tensor, int]] = field(default_factory=list)
    exact: list[torch.Tensor] = field(default_factory=list)

    def __post_init__(self) -> None:
        check_average(self.num_classes, self.average)
        self.confusion = torch.zeros(self.num_classes, self.num_classes, dtype=torch.long)

    def update(
        self,
        probabilities: torch.Tensor,
        labels: torch.Tensor,
        loss: torch.Tensor,
        exact: torch.Tensor | None = None,
    ) -> None:
        cells, scores, labels = batch_state(probabilities, labels, self.num_classes, self.average)
        self.confusion.view(-1).scatter_add_(0, cells, torch.ones_like(cells))
        self.parts.append((scores, labels))
        self.losses.append((loss, len(labels)))
        if exact is not None and len(exact):
            self.exact.append(exact)

    def compute(self, prefix: str) -> dict[str, float]:
        """{prefix}<metric>, {prefix}loss (the mean over samples), and {prefix}seq_exact where
        exact steps were given; float32 values, as the LightningModule logs them."""
        state = EpochState(
            confusion=self.confusion.double(),
            scores=torch.cat([scores for scores, _ in self.parts]),
            labels=torch.cat([labels for _, labels in self.parts]),
            average=self.average,
        )
        values = {f"{prefix}{name}": float32(value) for name, value in derive(state).items()}
        losses = torch.stack([loss for loss, _ in self.losses])
        sizes = torch.tensor([size for _, size in self.losses])
        values[f"{prefix}loss"] = float32(mean_loss(losses, sizes))
        if self.exact:
            exact = torch.cat(self.exact)
            values[f"{prefix}seq_exact"] = float(exact.sum() / exact.numel())
        return values


def float32(value: float) -> float:
    """A metric as the LightningModule logs it: a float32 scalar."""
    return float(torch.tensor(value, dtype=torch.float32))
