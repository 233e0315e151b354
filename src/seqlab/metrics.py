"""The five classification metrics, for two classes or many, under the names runs log.

Accuracy is always the plain share of correct predictions; precision, recall, F1 and AUROC
follow `average` (macro by default, so two-class and many-class runs read the same way, or
`binary` for the positive class of two-class data). AUROC is computed from probabilities, exactly
(no thresholds binning).
"""

from collections.abc import Callable
from typing import Literal, cast

import torch
from torchmetrics import Metric, MetricCollection
from torchmetrics.classification import (
    AUROC,
    Accuracy,
    BinaryAccuracy,
    BinaryAUROC,
    BinaryF1Score,
    BinaryPrecision,
    BinaryRecall,
    F1Score,
    Precision,
    Recall,
)

from seqlab.errors import SeqlabError

# The averages of torchmetrics' multiclass metrics (`binary` takes the Binary* classes instead).
MulticlassAverage = Literal["micro", "macro", "weighted", "none"]


def _auroc(num_classes: int, average: MulticlassAverage) -> Metric:
    # one-vs-rest AUROC has no micro average; macro is the closest honest summary
    return AUROC(
        "multiclass", num_classes=num_classes, average="macro" if average == "micro" else average
    )


# name -> (its two-class metric, its many-class metric from (num_classes, average)). A new
# metric is one entry here: runs log it as {split}/<name> and keep val/<name>_best.
METRICS: dict[str, tuple[Callable[[], Metric], Callable[[int, MulticlassAverage], Metric]]] = {
    "acc": (
        BinaryAccuracy,
        lambda n, average: Accuracy("multiclass", num_classes=n, average="micro"),
    ),
    "precision": (
        BinaryPrecision,
        lambda n, average: Precision("multiclass", num_classes=n, average=average),
    ),
    "recall": (
        BinaryRecall,
        lambda n, average: Recall("multiclass", num_classes=n, average=average),
    ),
    "f1": (BinaryF1Score, lambda n, average: F1Score("multiclass", num_classes=n, average=average)),
    "auroc": (BinaryAUROC, _auroc),
}
METRIC_NAMES = tuple(METRICS)


def build_metrics(num_classes: int, average: str, prefix: str) -> MetricCollection:
    if average == "binary":
        if num_classes != 2:
            raise SeqlabError(
                f"metrics.average=binary needs two classes, the data has "
                f"{num_classes}; use macro, micro or weighted"
            )
        metrics: dict[str, Metric | MetricCollection] = {
            name: binary() for name, (binary, _) in METRICS.items()
        }
    else:
        multiclass = cast(MulticlassAverage, average)
        metrics = {name: many(num_classes, multiclass) for name, (_, many) in METRICS.items()}
    return MetricCollection(metrics, prefix=prefix)


def metric_inputs(probabilities: torch.Tensor, average: str) -> torch.Tensor:
    """Binary metrics take the positive class's probability; multiclass ones take them all."""
    return probabilities[:, 1] if average == "binary" else probabilities
