"""The hand-off between an Optuna search and the training it runs.

The search (hydra_plugins/seqlab_optuna_sweeper) launches each trial's job in its own process
through Hydra's basic launcher, so it can make the trial "active" around the launch; the
pipeline then asks for `pruning_callbacks()` and gets optuna-integration's Lightning callback,
which reports the monitored metric at every validation epoch end and raises optuna.TrialPruned
when the pruner says so. Outside a search the list is empty and nothing of Optuna is imported.

This module imports neither lightning nor optuna at the top, because Hydra imports the sweeper
plugin (which imports this) at the start of every seqlab-train.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

_active: tuple[Any, str] | None = None  # (optuna trial, metric to report)

# Only metrics logged at every validation epoch end can be reported while training runs.
_EPOCH_PREFIXES = ("val/", "train/")


@contextmanager
def active_trial(trial: Any, monitor: str) -> Iterator[None]:
    global _active
    _active = (trial, monitor)
    try:
        yield
    finally:
        _active = None


def pruning_callbacks() -> list[Any]:
    if _active is None:
        return []
    trial, monitor = _active
    if not monitor.startswith(_EPOCH_PREFIXES):
        return []  # e.g. a test/ metric: known only after fit, so the trial runs to the end
    from optuna_integration import PyTorchLightningPruningCallback

    return [PyTorchLightningPruningCallback(trial, monitor=monitor)]
