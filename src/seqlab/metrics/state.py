"""A split's metric state across processes: `SplitMetrics`, the torchmetrics Metric that
training, validation and testing update once per batch and synchronise once per epoch, and
`MeanLoss`, the split's mean loss.

Each split keeps one: a confusion matrix (summed across processes) and every probability with
its label (gathered across processes). The values are derived by seqlab.metrics.scores
(accuracy, precision, recall, F1 and exact AUROC, equal to torchmetrics' own metric classes;
see there).
"""

import torch
from torchmetrics import Metric
from torchmetrics.utilities.data import dim_zero_cat

from seqlab.metrics.scores import EpochState, batch_state, check_average, derive, mean_loss


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
        check_average(num_classes, average)
        self.num_classes, self.average, self.prefix = num_classes, average, prefix
        zeros = torch.zeros(num_classes, num_classes, dtype=torch.long)
        self.add_state("confusion", zeros, dist_reduce_fx="sum")
        self.add_state("scores", [], dist_reduce_fx="cat")
        self.add_state("labels", [], dist_reduce_fx="cat")

    def update(self, probabilities: torch.Tensor, labels: torch.Tensor) -> None:
        cells, scores, labels = batch_state(probabilities, labels, self.num_classes, self.average)
        # scatter_add_ is deterministic (also on CUDA) and, unlike bincount, never waits for
        # the device
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
            f"{self.prefix}{name}": torch.tensor(value, dtype=torch.float32, device=device)
            for name, value in derive(state).items()
        }


class MeanLoss(Metric):
    """A split's mean loss over samples: each step's mean loss and batch size, gathered across
    processes as they are and summed once, in float64 (seqlab.metrics.scores.mean_loss), so
    that several processes log the figure of one to the bit. torchmetrics' MeanMetric sums in
    float32 on each process and then across them, an order that can move the last digit."""

    is_differentiable = False
    higher_is_better = False
    full_state_update = False

    losses: list[torch.Tensor] | torch.Tensor
    sizes: list[torch.Tensor] | torch.Tensor

    def __init__(self) -> None:
        super().__init__()
        self.add_state("losses", [], dist_reduce_fx="cat")
        self.add_state("sizes", [], dist_reduce_fx="cat")

    def update(self, losses: torch.Tensor, sizes: torch.Tensor) -> None:
        """`losses`: the mean loss of each step; `sizes`: each step's number of samples."""
        self.losses.append(losses.detach().float())  # type: ignore[union-attr]
        self.sizes.append(sizes)  # type: ignore[union-attr]

    def compute(self) -> torch.Tensor:
        losses, sizes = dim_zero_cat(self.losses), dim_zero_cat(self.sizes)
        return torch.tensor(mean_loss(losses, sizes), dtype=torch.float32, device=losses.device)
