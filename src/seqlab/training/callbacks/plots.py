"""Test-time plots: ROC curve, precision-recall curve and confusion matrix.

They need every test prediction, which the torchmetrics objects do not keep, so the
LightningModule's test_step returns its probabilities and labels and this callback collects
them. At the end of the test epoch it saves PNG files into the run dir (always, offline) and logs
the same three as W&B charts when a WandbLogger is attached. Under DDP each rank holds only its
share, so the shares are gathered onto rank 0 first.

matplotlib and sklearn.metrics are imported when the plots are drawn, after training: at the
top they added about half a second to every run's wait for its first step.
"""

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from lightning.pytorch.callbacks import Callback
from lightning.pytorch.loggers import WandbLogger

from seqlab.files import savefig_atomic

PLOT_FILES = ("roc_curve.png", "pr_curve.png", "confusion_matrix.png")
# The W&B chart keys (W&B keeps each chart's data as the table `<key>_table`); the dashboard's
# chart panels read them (seqlab.reports.dashboard).
ROC_CHART, PR_CHART, CONFUSION_CHART = "test/roc_curve", "test/pr_curve", "test/confusion_matrix"


class TestPlots(Callback):
    def __init__(self, out_dir: Path, class_names: Sequence[str]):
        self.out_dir = Path(out_dir)
        self.class_names = [str(name) for name in class_names]
        self._probabilities: list[torch.Tensor] = []
        self._labels: list[torch.Tensor] = []

    def on_test_epoch_start(self, trainer: Any, pl_module: Any) -> None:
        self._probabilities, self._labels = [], []

    def on_test_batch_end(
        self,
        trainer: Any,
        pl_module: Any,
        outputs: Any,
        batch: Any,
        batch_idx: int,
        dataloader_idx: int = 0,
    ) -> None:
        self._probabilities.append(outputs["probabilities"].detach().cpu())
        self._labels.append(outputs["labels"].detach().cpu())

    def on_test_epoch_end(self, trainer: Any, pl_module: Any) -> None:
        probabilities = torch.cat(self._probabilities).numpy()
        labels = torch.cat(self._labels).numpy()
        if trainer.world_size > 1:
            probabilities, labels = _gather_on_all_ranks(probabilities, labels)
        if not trainer.is_global_zero:
            return
        save_plots(probabilities, labels, self.class_names, self.out_dir)
        for logger in trainer.loggers:
            if isinstance(logger, WandbLogger):
                _log_wandb_charts(logger, probabilities, labels, self.class_names)


def save_plots(
    probabilities: np.ndarray, labels: np.ndarray, class_names: list[str], out_dir: Path
) -> list[Path]:
    """Write the three PNG files; two-class data plots the positive class (index 1), more classes
    one curve per class (one-vs-rest)."""
    from matplotlib.figure import Figure

    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, draw in zip(PLOT_FILES, (_roc, _pr, _confusion), strict=True):
        figure = Figure(figsize=(5, 4.5), layout="constrained")
        draw(figure.add_subplot(), probabilities, labels, class_names)
        savefig_atomic(figure, out_dir / name, dpi=110)
        paths.append(out_dir / name)
    return paths


def _curves(
    display: Any, ax: Any, probabilities: np.ndarray, labels: np.ndarray, names: list, **extra: Any
) -> None:
    classes = [1] if len(names) == 2 else range(len(names))
    for index in classes:
        display.from_predictions(
            labels == index, probabilities[:, index], name=names[index], ax=ax, **extra
        )


def _roc(ax: Any, probabilities: np.ndarray, labels: np.ndarray, names: list[str]) -> None:
    from sklearn.metrics import RocCurveDisplay

    _curves(RocCurveDisplay, ax, probabilities, labels, names, plot_chance_level=True)
    ax.set_title("ROC curve (test)")


def _pr(ax: Any, probabilities: np.ndarray, labels: np.ndarray, names: list[str]) -> None:
    from sklearn.metrics import PrecisionRecallDisplay

    _curves(PrecisionRecallDisplay, ax, probabilities, labels, names)
    ax.set_title("Precision-recall curve (test)")


def _confusion(ax: Any, probabilities: np.ndarray, labels: np.ndarray, names: list[str]) -> None:
    from sklearn.metrics import ConfusionMatrixDisplay

    ConfusionMatrixDisplay.from_predictions(
        labels,
        probabilities.argmax(axis=1),
        labels=list(range(len(names))),
        display_labels=names,
        ax=ax,
        colorbar=False,
    )
    ax.set_title("Confusion matrix (test)")


def _log_wandb_charts(
    logger: WandbLogger, probabilities: np.ndarray, labels: np.ndarray, names: list[str]
) -> None:
    import wandb

    y_true, y_probas = labels.tolist(), probabilities.tolist()
    logger.experiment.log(
        {
            ROC_CHART: wandb.plot.roc_curve(y_true, y_probas, labels=names),
            PR_CHART: wandb.plot.pr_curve(y_true, y_probas, labels=names),
            CONFUSION_CHART: wandb.plot.confusion_matrix(
                y_true=y_true, preds=probabilities.argmax(axis=1).tolist(), class_names=names
            ),
        }
    )


def _gather_on_all_ranks(
    probabilities: np.ndarray, labels: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Ranks may hold different sample counts (the exact eval sampler), so gather objects."""
    import torch.distributed as dist

    shares: list[Any] = [None] * dist.get_world_size()
    dist.all_gather_object(shares, (probabilities, labels))
    return (
        np.concatenate([share[0] for share in shares]),
        np.concatenate([share[1] for share in shares]),
    )
