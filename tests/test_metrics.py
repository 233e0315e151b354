"""SplitMetrics and seqlab.metrics.scores: the values of torchmetrics' own classes and of
scikit-learn, from one state; AUROC equal to torchmetrics' to the bit, without importing it."""

import numpy as np
import pytest
import torch
from sklearn import metrics as sk
from torchmetrics import Metric
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
from torchmetrics.functional.classification import binary_auroc, multiclass_auroc

from seqlab.errors import SeqlabError
from seqlab.metrics.scores import (
    METRIC_NAMES,
    METRICS,
    EpochScores,
    EpochState,
    float32,
    mean_loss,
)
from seqlab.metrics.state import MeanLoss, SplitMetrics

CASES = [
    (2, "binary"),
    (2, "macro"),
    (2, "micro"),
    (2, "weighted"),
    (3, "macro"),
    (5, "macro"),
    (5, "micro"),
    (5, "weighted"),
    (4, "micro"),
]


def predictions(
    num_samples: int, num_classes: int, seed: int, absent: int | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Probabilities that favour the true class; `absent`: a class no sample has (it can still
    be predicted)."""
    generator = torch.Generator().manual_seed(seed)
    labels = torch.randint(0, num_classes, (num_samples,), generator=generator)
    if absent is not None:
        labels[labels == absent] = (absent + 1) % num_classes
    logits = torch.randn(
        num_samples, num_classes, generator=generator
    ) + 1.5 * torch.nn.functional.one_hot(labels, num_classes)
    return logits.softmax(dim=-1), labels


def torchmetrics_reference(num_classes: int, average: str) -> dict[str, Metric]:
    """torchmetrics' own metric classes, as seqlab used them before SplitMetrics."""
    if average == "binary":
        return {
            "acc": BinaryAccuracy(),
            "precision": BinaryPrecision(),
            "recall": BinaryRecall(),
            "f1": BinaryF1Score(),
            "auroc": BinaryAUROC(),
        }
    options = {"task": "multiclass", "num_classes": num_classes}
    return {
        "acc": Accuracy(average="micro", **options),
        "precision": Precision(average=average, **options),
        "recall": Recall(average=average, **options),
        "f1": F1Score(average=average, **options),
        "auroc": AUROC(average="macro" if average == "micro" else average, **options),
    }


def batches(num_samples: int, size: int) -> list[slice]:
    return [slice(start, start + size) for start in range(0, num_samples, size)]


def ours_and_reference(probabilities, labels, num_classes, average, size=64):
    metrics = SplitMetrics(num_classes, average, prefix="test/")
    reference = torchmetrics_reference(num_classes, average)
    for chunk in batches(len(labels), size):  # uneven batches, as in an epoch
        metrics.update(probabilities[chunk], labels[chunk])
        for metric in reference.values():
            metric.update(
                probabilities[chunk, 1] if average == "binary" else probabilities[chunk],
                labels[chunk],
            )
    ours = {name.removeprefix("test/"): float(v) for name, v in metrics.compute().items()}
    return ours, {name: float(metric.compute()) for name, metric in reference.items()}


@pytest.mark.parametrize(("num_classes", "average"), CASES)
@pytest.mark.parametrize("absent", [False, True])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_values_equal_torchmetrics_own_classes(num_classes, average, absent, seed):
    probabilities, labels = predictions(
        301, num_classes, seed=seed, absent=num_classes - 1 if absent else None
    )
    ours, expected = ours_and_reference(probabilities, labels, num_classes, average)
    assert ours.keys() == expected.keys() == set(METRIC_NAMES)
    for name in ours:
        assert ours[name] == pytest.approx(expected[name], abs=1e-6), name
        assert 0.0 <= ours[name] <= 1.0, name


@pytest.mark.parametrize(("num_classes", "average"), CASES)
def test_a_class_absent_from_labels_and_predictions_counts_as_torchmetrics_counts_it(
    num_classes, average
):
    """Zero divisions: a class nobody has and nothing predicts (macro leaves it out, weighted
    weighs it 0), and batches of a single class."""
    if num_classes == 2:  # two classes: one absent leaves one class, every batch of it
        probabilities, labels = predictions(40, 2, seed=3)
        labels[:] = 0
        probabilities = torch.tensor([[0.8, 0.2]]).repeat(40, 1)
        probabilities[::7] = torch.tensor([0.3, 0.7])
    else:
        probabilities, labels = predictions(200, num_classes, seed=4, absent=1)
        probabilities[:, 1] = 0.0  # never predicted either
    ours, expected = ours_and_reference(probabilities, labels, num_classes, average, size=16)
    for name in ours:
        assert ours[name] == pytest.approx(expected[name], abs=1e-6, nan_ok=True), name


def test_values_never_leave_zero_to_one_where_float32_does():
    """Right predictions, supports 2, 4 and 1: torchmetrics' weighted F1 and precision in
    float32 come to 1.0000001; SplitMetrics computes in float64 and clamps."""
    labels = torch.tensor([0, 0, 1, 1, 1, 1, 2])
    probabilities = torch.nn.functional.one_hot(labels, 3).float()
    reference = torchmetrics_reference(3, "weighted")
    assert float(reference["f1"](probabilities, labels)) > 1.0  # the float32 overshoot exists
    metrics = SplitMetrics(3, "weighted", prefix="val/")
    metrics.update(probabilities, labels)
    values = {name: float(value) for name, value in metrics.compute().items()}
    assert values == {f"val/{name}": 1.0 for name in METRIC_NAMES}


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


@pytest.mark.parametrize(("num_classes", "average"), CASES)
def test_values_equal_sklearn(num_classes, average):
    probabilities, labels = predictions(301, num_classes, seed=num_classes)
    ours, _ = ours_and_reference(probabilities, labels, num_classes, average)
    expected = sklearn_values(probabilities.numpy(), labels.numpy(), average)
    for name in ours:
        assert ours[name] == pytest.approx(expected[name], abs=1e-6), name


def test_one_state_per_split_reset_each_epoch():
    """One Metric holds a split's whole state (the five values derive from it): no child
    metrics; reset empties it, and a second epoch scores only its own samples."""
    metrics = SplitMetrics(4, "macro", prefix="val/")
    assert [m for m in metrics.modules() if isinstance(m, Metric)] == [metrics]
    assert set(metrics.metric_state) == {"confusion", "scores", "labels"}
    first, first_labels = predictions(50, 4, seed=5)
    second, second_labels = predictions(70, 4, seed=6)
    metrics.update(first, first_labels)
    assert int(metrics.confusion.sum()) == 50
    metrics.compute()
    metrics.reset()
    metrics.update(second, second_labels)
    again = SplitMetrics(4, "macro", prefix="val/")
    again.update(second, second_labels)
    assert metrics.compute() == again.compute()


def test_forward_gives_the_batch_values_and_keeps_the_epoch():
    probabilities, labels = predictions(120, 3, seed=7)
    metrics = SplitMetrics(3, "weighted", prefix="train/")
    whole = SplitMetrics(3, "weighted", prefix="train/")
    whole.update(probabilities, labels)
    half = SplitMetrics(3, "weighted", prefix="train/")
    half.update(probabilities[60:], labels[60:])
    metrics(probabilities[:60], labels[:60])
    assert metrics(probabilities[60:], labels[60:]) == half.compute()
    assert metrics.compute() == whole.compute()


def test_binary_average_needs_two_classes():
    with pytest.raises(SeqlabError, match="needs two classes"):
        SplitMetrics(3, "binary", prefix="val/")


@pytest.mark.parametrize("num_classes, average", [(2, "binary"), *CASES])
@pytest.mark.parametrize("case", ["plain", "ties", "absent", "one class"])
def test_auroc_is_torchmetrics_own_to_the_bit(num_classes, average, case):
    """seqlab.metrics.scores computes AUROC itself (prediction does not import torchmetrics) and
    must give exactly torchmetrics' functional AUROC: ties, a class without samples, one class."""
    absent = 1 if case == "absent" else None
    probabilities, labels = predictions(257, num_classes, seed=11, absent=absent)
    if case == "ties":  # few distinct scores, many samples on each
        probabilities = (probabilities * 4).round() / 4
    if case == "one class":
        labels = torch.zeros_like(labels)
    state = EpochState(
        confusion=torch.zeros(num_classes, num_classes, dtype=torch.float64),
        scores=probabilities[:, 1] if average == "binary" else probabilities,
        labels=labels,
        average=average,
    )
    if average == "binary":
        expected = binary_auroc(state.scores, labels)
    else:
        expected = multiclass_auroc(
            probabilities,
            labels,
            num_classes=num_classes,
            average="macro" if average == "micro" else average,
        )
    assert METRICS["auroc"](state) == float(expected)


def test_epoch_scores_give_split_metrics_values_without_torchmetrics():
    """seqlab-predict's own loop (EpochScores) and training's state (SplitMetrics) agree to the
    bit on every metric, over uneven batches."""
    probabilities, labels = predictions(301, 4, seed=12)
    ours, reference = EpochScores(4, "weighted"), SplitMetrics(4, "weighted", prefix="test/")
    for chunk in batches(len(labels), 64):
        ours.update(probabilities[chunk], labels[chunk], torch.tensor(0.5))
        reference.update(probabilities[chunk], labels[chunk])
    values = ours.compute("test/")
    assert values.pop("test/loss") == 0.5
    assert values == {name: float(value) for name, value in reference.compute().items()}


def test_the_mean_loss_does_not_depend_on_the_order_or_share_of_steps():
    """Processes hold the steps in another order and split than one process: the float32 loss
    logged must be the same to the bit (tests/test_tag.py checks it under real DDP)."""
    generator = torch.Generator().manual_seed(13)
    losses = torch.rand(97, generator=generator) * 3
    sizes = torch.randint(1, 65, (97,), generator=generator)
    whole = MeanLoss()
    whole.update(losses, sizes)
    expected = whole.compute()
    assert abs(float(expected) - float((losses * sizes).sum() / sizes.sum())) < 1e-6
    for _ in range(5):
        order = torch.randperm(97, generator=generator)
        shares = MeanLoss()
        for chunk in order.split(13):
            shares.update(losses[chunk], sizes[chunk])
        assert shares.compute().item() == expected.item()
    # seqlab-predict's own loop (EpochScores) takes the same mean
    assert float32(mean_loss(losses.flip(0), sizes.flip(0))) == expected.item()
