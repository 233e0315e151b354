"""What the data's protocol (data/ucr/config.py `Protocol`) changes in a training run.

val_split:  the checkpoint callback keeps the best epoch by callbacks.checkpoint.monitor, as set.
train_loss: no validation part; the epoch with the lowest training loss is kept (the published
            protocol of the MLP baseline, Wang et al. 2017).
cv_epochs:  one fit per fold of TRAIN (the fold as validation part, every epoch run) gives each
            epoch's monitored value; the epoch count with the best mean over the folds (ties: the
            lower mean tie-breaker, then the fewer epochs) is all that is chosen. The refit then
            trains on all of TRAIN, with the same settings (the learning-rate schedule too), and
            stops after that many epochs; its last epoch is tested.
TEST takes no part in any of this: the fold fits and the refit never see it.
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from lightning.pytorch.callbacks import Callback

from seqlab.config import CheckpointConfig, MonitorMode
from seqlab.data.base import SequenceDataModule


@dataclass(frozen=True)
class KeptCheckpoint:
    """Which checkpoint a fit keeps as its best (and early stopping watches): by `monitor`,
    the better by `mode`, ties broken by `tie_breaker`; a monitor of None keeps the newest."""

    monitor: str | None
    mode: MonitorMode
    tie_breaker: str | None


def kept_checkpoint(checkpoint: CheckpointConfig, protocol: str) -> KeptCheckpoint:
    """callbacks.checkpoint as the protocol needs it."""
    if protocol == "train_loss":
        return KeptCheckpoint("train/loss", MonitorMode.min, None)
    if protocol == "cv_epochs":  # the refit's last epoch
        return KeptCheckpoint(None, checkpoint.mode, None)
    return KeptCheckpoint(checkpoint.monitor, checkpoint.mode, checkpoint.tie_breaker)


def stops_early(protocol: str) -> bool:
    """Whether callbacks.early_stopping may end the fit: not in the cv_epochs fits, which run
    every epoch of every fold and then exactly the chosen count."""
    return protocol != "cv_epochs"


class EpochHistory(Callback):
    """Each validation epoch's value of some logged metrics, in order."""

    def __init__(self, names: list[str]):
        self.values: dict[str, list[float]] = {name: [] for name in names}

    def on_validation_end(self, trainer: Any, pl_module: Any) -> None:
        if trainer.sanity_checking:
            return
        for name, values in self.values.items():
            values.append(float(trainer.callback_metrics[name]))


class StopAfterEpochs(Callback):
    """Stop fit after `epochs` epochs while keeping trainer.max_epochs (and so the learning-rate
    schedule's length) as the fold fits had it."""

    def __init__(self, epochs: int):
        self.epochs = epochs

    def on_train_epoch_end(self, trainer: Any, pl_module: Any) -> None:
        if trainer.current_epoch + 1 >= self.epochs:
            trainer.should_stop = True


@dataclass
class EpochChoice:
    epochs: int  # the chosen number of epochs
    monitor: str
    mean: list[float]  # per epoch, the monitor's mean over the folds
    folds: list[dict[str, list[float]]]  # per fold, per metric, its value after each epoch

    def to_dict(self) -> dict[str, Any]:
        return {
            "epochs": self.epochs,
            "monitor": self.monitor,
            "mean": self.mean,
            "folds": self.folds,
        }


def choose_epochs(
    datamodule: SequenceDataModule,
    folds: int,
    checkpoint: CheckpointConfig,
    fit_fold: Callable[[SequenceDataModule, EpochHistory], None],
) -> EpochChoice:
    """Run `fit_fold` on each fold of `datamodule`'s TRAIN and pick the number of epochs."""
    monitor, tie_breaker = checkpoint.monitor, checkpoint.tie_breaker
    names = [monitor] + ([tie_breaker] if tie_breaker else [])
    histories = []
    for index in range(folds):
        fold = datamodule.fold(index)
        fold.setup("fit")
        history = EpochHistory(names)
        fit_fold(fold, history)
        histories.append(history.values)
    epochs = min(len(h[monitor]) for h in histories)
    mean = np.mean([h[monitor][:epochs] for h in histories], axis=0)
    sign = -1.0 if checkpoint.mode == "max" else 1.0
    ties = (
        np.mean([h[tie_breaker][:epochs] for h in histories], axis=0)
        if tie_breaker
        else np.zeros(epochs)
    )
    # lexicographic: the monitor's mean first, then the tie-breaker's, then the earlier epoch
    best = int(np.lexsort((np.arange(epochs), ties, sign * mean))[0])
    return EpochChoice(best + 1, monitor, [float(v) for v in mean], histories)
