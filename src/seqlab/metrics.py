"""The five classification metrics, for two classes or many, under the names runs log.

Accuracy is always the plain share of correct predictions; precision, recall, F1 and AUROC
follow `average` (macro by default, so two-class and many-class runs read the same way, or
`binary` for the positive class of two-class data). AUROC is computed from probabilities, exactly
(no thresholds binning).
"""

import torch
from torchmetrics import MetricCollection
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

METRIC_NAMES = ("acc", "precision", "recall", "f1", "auroc")


def build_metrics(num_classes: int, average: str, prefix: str) -> MetricCollection:
    if average == "binary":
        if num_classes != 2:
            raise SeqlabError(
                f"metrics.average=binary needs two classes, the data has "
                f"{num_classes}; use macro, micro or weighted"
            )
        metrics = {
            "acc": BinaryAccuracy(),
            "precision": BinaryPrecision(),
            "recall": BinaryRecall(),
            "f1": BinaryF1Score(),
            "auroc": BinaryAUROC(),
        }
    else:
        common = {"task": "multiclass", "num_classes": num_classes}
        metrics = {
            "acc": Accuracy(**common, average="micro"),
            "precision": Precision(**common, average=average),
            "recall": Recall(**common, average=average),
            "f1": F1Score(**common, average=average),
            # one-vs-rest AUROC has no micro average; macro is the closest honest summary
            "auroc": AUROC(**common, average="macro" if average == "micro" else average),
        }
    return MetricCollection(metrics, prefix=prefix)


def metric_inputs(probabilities: torch.Tensor, average: str) -> torch.Tensor:
    """Binary metrics take the positive class's probability; multiclass ones take them all."""
    return probabilities[:, 1] if average == "binary" else probabilities
