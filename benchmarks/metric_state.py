"""One metric state per split (SplitMetrics) against the five torchmetrics objects it replaced.

    PYTHONPATH=src python benchmarks/metric_state.py [--epochs 30]

Three ways to score an epoch of class probabilities, each timed per epoch (one thread, CPU):
- `five, per batch`: a MetricCollection of torchmetrics' five classes, updated every batch;
- `five, per epoch`: the same collection, the batches kept and concatenated into one update at
  the epoch's end (what SequenceClassifier did before SplitMetrics);
- `SplitMetrics, per batch`: one update per batch (a confusion matrix and the probabilities),
  what SequenceClassifier does now;
- `SplitMetrics, per epoch`: the batches kept and concatenated into one update at the end.
Each epoch ends with compute and reset. The three are run in turn, epoch by epoch, so load on
the machine falls on each alike; the thread's CPU time, medians over the epochs, with their
range. Also counted: the
tensors each side would gather across processes in one compute (a counting stand-in for
torchmetrics' gather; one process, nothing sent).
"""

import argparse
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass

from common import pin_threads

pin_threads(1)

import torch  # noqa: E402
from torchmetrics import Metric, MetricCollection  # noqa: E402
from torchmetrics.classification import (  # noqa: E402
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

from seqlab.metrics.state import SplitMetrics  # noqa: E402


@dataclass(frozen=True)
class Workload:
    name: str
    num_classes: int
    average: str
    batches: int
    batch_size: int  # rows scored per batch (task=tag: labelled steps)


WORKLOADS = (
    Workload("binary (parity-sized)", 2, "binary", 10, 30),
    Workload("5 classes, macro", 5, "macro", 10, 32),
    Workload("tag-sized, binary", 2, "binary", 20, 3200),
)


def five_torchmetrics(num_classes: int, average: str) -> MetricCollection:
    """The collection seqlab built before SplitMetrics (the same classes and options)."""
    if average == "binary":
        metrics: dict[str, Metric] = {
            "acc": BinaryAccuracy(),
            "precision": BinaryPrecision(),
            "recall": BinaryRecall(),
            "f1": BinaryF1Score(),
            "auroc": BinaryAUROC(),
        }
    else:
        options = {"task": "multiclass", "num_classes": num_classes}
        metrics = {
            "acc": Accuracy(average="micro", **options),
            "precision": Precision(average=average, **options),
            "recall": Recall(average=average, **options),
            "f1": F1Score(average=average, **options),
            "auroc": AUROC(average="macro" if average == "micro" else average, **options),
        }
    return MetricCollection(metrics, prefix="val/")


def epoch_data(work: Workload, seed: int) -> list[tuple[torch.Tensor, torch.Tensor]]:
    generator = torch.Generator().manual_seed(seed)
    data = []
    for _ in range(work.batches):
        labels = torch.randint(0, work.num_classes, (work.batch_size,), generator=generator)
        logits = torch.randn(work.batch_size, work.num_classes, generator=generator)
        data.append((logits.softmax(dim=-1), labels))
    return data


# (per-batch part, epoch-end part) of one way to score an epoch
Side = tuple[Callable[[torch.Tensor, torch.Tensor], None], Callable[[], object]]


def sides(work: Workload) -> dict[str, Side]:
    binary = work.average == "binary"

    def inputs(probabilities: torch.Tensor) -> torch.Tensor:
        return probabilities[:, 1] if binary else probabilities

    per_batch = five_torchmetrics(work.num_classes, work.average)

    def per_batch_end() -> object:
        values = per_batch.compute()
        per_batch.reset()
        return values

    per_epoch = five_torchmetrics(work.num_classes, work.average)
    kept: list[tuple[torch.Tensor, torch.Tensor]] = []

    def per_epoch_end() -> object:
        probabilities, labels = zip(*kept, strict=True)
        kept.clear()
        per_epoch.update(inputs(torch.cat(probabilities)), torch.cat(labels))
        values = per_epoch.compute()
        per_epoch.reset()
        return values

    split = SplitMetrics(work.num_classes, work.average, prefix="val/")

    def split_end() -> object:
        values = split.compute()
        split.reset()
        return values

    split_once = SplitMetrics(work.num_classes, work.average, prefix="val/")
    kept_once: list[tuple[torch.Tensor, torch.Tensor]] = []

    def split_once_end() -> object:
        probabilities, labels = zip(*kept_once, strict=True)
        kept_once.clear()
        split_once.update(torch.cat(probabilities), torch.cat(labels))
        values = split_once.compute()
        split_once.reset()
        return values

    return {
        "five, per batch": (lambda p, y: per_batch.update(inputs(p), y), per_batch_end),
        "five, per epoch": (lambda p, y: kept.append((p, y)), per_epoch_end),
        "SplitMetrics, per batch": (split.update, split_end),
        "SplitMetrics, per epoch": (lambda p, y: kept_once.append((p, y)), split_once_end),
    }


def time_epoch(side: Side, data: list) -> tuple[float, float]:
    """(ms of the per-batch parts, ms of the epoch's end) of one epoch, in this thread's CPU
    time: other processes on a shared machine add less to it than to wall time."""
    step, end = side
    start = time.thread_time_ns()
    for probabilities, labels in data:
        step(probabilities, labels)
    middle = time.thread_time_ns()
    end()
    return 1e-6 * (middle - start), 1e-6 * (time.thread_time_ns() - middle)


def gathered_tensors(metric: Metric | MetricCollection, data: list) -> int:
    """Tensors one compute hands to the gather across processes (a counting stand-in)."""
    count = 0

    def gather(tensor: torch.Tensor, group: object = None) -> list[torch.Tensor]:
        nonlocal count
        count += 1
        return [tensor]

    for module in metric.modules():
        if isinstance(module, Metric):
            module.dist_sync_fn = gather
            module.distributed_available_fn = lambda: True
    for probabilities, labels in data:
        metric.update(probabilities, labels)
    metric.compute()
    return count


def cell(values: list[float]) -> str:
    return f"{statistics.median(values):.3f} [{min(values):.3f}, {max(values):.3f}]"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--epochs", type=int, default=30, help="timed epochs per side")
    args = parser.parse_args()
    threads = torch.get_num_threads()
    print(f"torch threads {threads}, {args.epochs} epochs per side; CPU ms, median [range]")
    print()
    print("| workload | side | per-batch parts, ms an epoch | epoch end, ms | total, ms an epoch |")
    print("|---|---|---|---|---|")
    for work in WORKLOADS:
        data = epoch_data(work, seed=0)
        ways = sides(work)
        times: dict[str, list[tuple[float, float]]] = {name: [] for name in ways}
        for side in ways.values():  # warm-up
            time_epoch(side, data)
        for _ in range(args.epochs):
            for name, side in ways.items():
                times[name].append(time_epoch(side, data))
        for name, pairs in times.items():
            steps, ends = [p for p, _ in pairs], [e for _, e in pairs]
            totals = [p + e for p, e in pairs]
            print(f"| {work.name} | {name} | {cell(steps)} | {cell(ends)} | {cell(totals)} |")
    print()
    print("| workload | tensors gathered per compute: five torchmetrics | SplitMetrics |")
    print("|---|---|---|")
    for work in WORKLOADS:
        data = [(p[:, 1] if work.average == "binary" else p, y) for p, y in epoch_data(work, 0)]
        old = gathered_tensors(five_torchmetrics(work.num_classes, work.average), data)
        split = SplitMetrics(work.num_classes, work.average, prefix="val/")
        new = gathered_tensors(split, epoch_data(work, 0))
        print(f"| {work.name} | {old} | {new} |")


if __name__ == "__main__":
    main()
