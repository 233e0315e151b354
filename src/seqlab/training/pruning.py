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

    if not monitor.endswith(_BEST_SUFFIX):
        return [PyTorchLightningPruningCallback(trial, monitor=monitor)]

    class BestValuePruning(PyTorchLightningPruningCallback):
        """val/<metric>_best is kept by the module, not logged each epoch: the callback reads
        the module's running best as if it had been logged."""

        def on_validation_end(self, trainer: Any, pl_module: Any) -> None:
            super().on_validation_end(_WithBestValues(trainer, pl_module.best), pl_module)

    return [BestValuePruning(trial, monitor=monitor)]


_BEST_SUFFIX = "_best"


class _WithBestValues:
    """The trainer, with `values` added to its callback_metrics; every other attribute (read or
    written: the callback sets trainer.should_stop under DDP) is the trainer's own."""

    def __init__(self, trainer: Any, values: dict[str, float]) -> None:
        object.__setattr__(self, "_trainer", trainer)
        object.__setattr__(self, "_values", values)

    @property
    def callback_metrics(self) -> dict[str, Any]:
        import torch

        best = {name: torch.tensor(value) for name, value in self._values.items()}
        return {**self._trainer.callback_metrics, **best}

    def __getattr__(self, name: str) -> Any:
        return getattr(self._trainer, name)

    def __setattr__(self, name: str, value: Any) -> None:
        setattr(self._trainer, name, value)
