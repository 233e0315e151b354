"""The sweeper's config node, registered as hydra/sweeper=seqlab_optuna.

Hydra imports this module at the start of every app (plugin discovery), so it holds nothing but
dataclasses: optuna is imported only when a search runs.
"""

from dataclasses import dataclass, field
from typing import Any

from hydra.core.config_store import ConfigStore


@dataclass
class SeqlabOptunaSweeperConf:
    _target_: str = "hydra_plugins.seqlab_optuna_sweeper.sweeper.SeqlabOptunaSweeper"
    # sampler and pruner are built when the search starts, not when Hydra builds the plugin.
    _recursive_: bool = False
    # A key of the dict seqlab-train returns (its metrics.json plus val/*_best).
    metric: str = "val/f1_best"
    direction: str = "maximize"  # maximize | minimize
    # The total for the study, between all its workers: a resumed search (or a further worker)
    # runs only the trials still missing.
    n_trials: int = 20
    study_name: str = "${experiment_name}"
    # null: sqlite:///<sweep dir>/optuna.db, so re-running the same command resumes the search.
    # Many workers on one study: sqlite:///<file>.db, postgresql://<user>@<host>/<database>, or
    # <path>.journal (Optuna's journal file, for shared file systems); see docs/sweeps.md.
    storage: str | None = None
    # Seconds without a heartbeat after which a running trial counts as dead (its worker was
    # killed): recorded FAIL by the next worker that looks, and its slot runs again.
    grace_period: int = 120
    sampler: Any = field(
        default_factory=lambda: {"_target_": "optuna.samplers.TPESampler", "seed": 42}
    )
    pruner: Any = field(
        default_factory=lambda: {
            "_target_": "optuna.pruners.MedianPruner",
            "n_startup_trials": 5,
            "n_warmup_steps": 10,
        }
    )
    # key: Hydra sweep syntax, e.g. optim.lr: tag(log, interval(1e-4, 1e-2)),
    # model.hidden_size: choice(32, 64, 128), model.num_layers: range(1, 3).
    params: dict[str, str] = field(default_factory=dict)


ConfigStore.instance().store(
    group="hydra/sweeper", name="seqlab_optuna", node=SeqlabOptunaSweeperConf, provider="seqlab"
)
