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


def _auroc(num_classes: int, average: MulticlassAverage, **options: bool) -> Metric:
    # one-vs-rest AUROC has no micro average; macro is the closest honest summary
    return AUROC(
        "multiclass",
        num_classes=num_classes,
        average="macro" if average == "micro" else average,
        **options,
    )


# name -> (its two-class metric, its many-class metric from (num_classes, average)), each
# taking torchmetrics' options. A new metric is one entry here: runs log it as {split}/<name>
# and keep val/<name>_best.
METRICS: dict[str, tuple[Callable[..., Metric], Callable[..., Metric]]] = {
    "acc": (
        BinaryAccuracy,
        lambda n, average, **o: Accuracy("multiclass", num_classes=n, average="micro", **o),
    ),
    "precision": (
        BinaryPrecision,
        lambda n, average, **o: Precision("multiclass", num_classes=n, average=average, **o),
    ),
    "recall": (
        BinaryRecall,
        lambda n, average, **o: Recall("multiclass", num_classes=n, average=average, **o),
    ),
    "f1": (
        BinaryF1Score,
        lambda n, average, **o: F1Score("multiclass", num_classes=n, average=average, **o),
    ),
    "auroc": (BinaryAUROC, _auroc),
}
METRIC_NAMES = tuple(METRICS)


def build_metrics(
    num_classes: int, average: str, prefix: str, sync: bool = True
) -> MetricCollection:
    """The five metrics; `sync=False`: computed from this process's updates alone, where
    only one process of a distributed run scores (no other would join the gather)."""
    options = {"sync_on_compute": sync}
    if average == "binary":
        if num_classes != 2:
            raise SeqlabError(
                f"metrics.average=binary needs two classes, the data has "
                f"{num_classes}; use macro, micro or weighted"
            )
        metrics: dict[str, Metric | MetricCollection] = {
            name: binary(**options) for name, (binary, _) in METRICS.items()
        }
    else:
        multiclass = cast(MulticlassAverage, average)
        metrics = {
            name: many(num_classes, multiclass, **options) for name, (_, many) in METRICS.items()
        }
    return MetricCollection(metrics, prefix=prefix)


def metric_inputs(probabilities: torch.Tensor, average: str) -> torch.Tensor:
    """Binary metrics take the positive class's probability; multiclass ones take them all."""
    return probabilities[:, 1] if average == "binary" else probabilities
