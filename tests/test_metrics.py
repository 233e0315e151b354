"""torchmetrics values equal scikit-learn's on the same predictions."""

import numpy as np
import pytest
import torch
from sklearn import metrics as sk

from seqlab.metrics import build_metrics, metric_inputs


def predictions(num_samples: int, num_classes: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    labels = torch.randint(0, num_classes, (num_samples,), generator=generator)
    logits = torch.randn(
        num_samples, num_classes, generator=generator
    ) + 1.5 * torch.nn.functional.one_hot(labels, num_classes)
    return logits.softmax(dim=-1), labels


def sklearn_values(probabilities: np.ndarray, labels: np.ndarray, average: str) -> dict:
    """scikit-learn's five metrics; one-vs-rest AUROC has no micro average, so seqlab (and this
    reference) report macro for it."""
    predicted = probabilities.argmax(axis=1)
    if probabilities.shape[1] == 2:
        # two classes: macro one-vs-rest AUROC equals the positive class's AUROC
        auroc = sk.roc_auc_score(labels, probabilities[:, 1])
    else:
        auroc = sk.roc_auc_score(
            labels,
            probabilities,
            multi_class="ovr",
            average="macro" if average == "micro" else average,
        )
    return {
        "acc": sk.accuracy_score(labels, predicted),
        "precision": sk.precision_score(labels, predicted, average=average, zero_division=0),
        "recall": sk.recall_score(labels, predicted, average=average, zero_division=0),
        "f1": sk.f1_score(labels, predicted, average=average, zero_division=0),
        "auroc": auroc,
    }


@pytest.mark.parametrize(
    ("num_classes", "average"),
    [
        (2, "binary"),
        (2, "macro"),
        (3, "macro"),
        (5, "macro"),
        (5, "weighted"),
        (4, "micro"),
    ],
)
def test_metrics_equal_sklearn(num_classes, average):
    probabilities, labels = predictions(301, num_classes, seed=num_classes)
    collection = build_metrics(num_classes, average, prefix="test/")
    # updated over uneven batches, as in an epoch
    for start in range(0, 301, 64):
        chunk = slice(start, start + 64)
        collection.update(metric_inputs(probabilities[chunk], average), labels[chunk])
    ours = {name.removeprefix("test/"): float(v) for name, v in collection.compute().items()}
    expected = sklearn_values(probabilities.numpy(), labels.numpy(), average)
    assert ours.keys() == expected.keys()
    for name in ours:
        assert ours[name] == pytest.approx(expected[name], abs=1e-6), name


def test_binary_average_needs_two_classes():
    from seqlab.errors import SeqlabError

    with pytest.raises(SeqlabError, match="needs two classes"):
        build_metrics(3, "binary", prefix="val/")
