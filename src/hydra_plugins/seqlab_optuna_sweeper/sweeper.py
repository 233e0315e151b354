"""An Optuna search as a Hydra sweeper: each trial draws its values, launches its job, reports.

Why not hydra-optuna-sweeper: its stable release needs optuna<3 (no pruning with Lightning 2,
sqlite only with SQLAlchemy<2), and it never hands the trial to the job, so no job can prune.
This one runs each job through Hydra's launcher (its own run dir, saved config and overrides,
like any multirun job) inside `active_trial`, so the training reports its epoch-end metric to
the trial and the pruner can stop it (seqlab/callbacks/pruning.py).

Outcomes: the job's metric is finite -> COMPLETE; the job raised optuna.TrialPruned -> PRUNED;
anything else (an exception, a seqlab error, a missing or non-finite metric) -> FAIL, and the
search goes on. The study lives in sqlite in the sweep dir: running the same command again
loads it, records trials left RUNNING by the interruption as FAIL, and runs the missing ones,
numbering jobs (and their run dirs) after the trials already there.
"""

import logging
import math
from pathlib import Path
from typing import Any, Literal, cast

from hydra.core.plugins import Plugins
from hydra.core.utils import JobReturn, JobStatus
from hydra.plugins.sweeper import Sweeper
from hydra.types import HydraContext, TaskFunction
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf, open_dict

from hydra_plugins.seqlab_optuna_sweeper import space as search_space
from seqlab.config import TrainConfig, validate
from seqlab.errors import SeqlabError, exit_with
from seqlab.training.pruning import active_trial

log = logging.getLogger(__name__)
RESULTS_FILE = "optimization_results.yaml"


class TrialFailed(Exception):
    """A trial's job raised or gave no finite metric: Optuna records it FAIL and goes on."""


class SeqlabOptunaSweeper(Sweeper):
    def __init__(
        self,
        metric: str,
        direction: str,
        n_trials: int,
        study_name: str,
        storage: str | None,
        sampler: DictConfig,
        pruner: DictConfig | None,
        params: DictConfig,
    ):
        self.metric, self.direction, self.n_trials = metric, direction, n_trials
        self.study_name, self.storage = study_name, storage
        self.sampler_cfg, self.pruner_cfg = sampler, pruner
        self.params = {str(k): str(v) for k, v in (params or {}).items()}

    def setup(
        self, *, hydra_context: HydraContext, task_function: TaskFunction, config: DictConfig
    ) -> None:
        self.config, self.hydra_context = config, hydra_context
        self.launcher = Plugins.instance().instantiate_launcher(
            hydra_context=hydra_context, task_function=task_function, config=config
        )
        self.sweep_dir = Path(config.hydra.sweep.dir)

    def sweep(self, arguments: list[str]) -> list[JobReturn]:
        try:
            return self._search(arguments)
        except SeqlabError as error:
            exit_with(error)
            raise  # unreachable: exit_with exits

    def _search(self, arguments: list[str]) -> list[JobReturn]:
        import optuna

        if self.direction not in ("maximize", "minimize"):
            raise SeqlabError(
                f"hydra.sweeper.direction={self.direction!r}; use maximize or minimize"
            )
        space, fixed = search_space.parse(self.params, arguments)
        if not space:
            raise SeqlabError(
                "hparams_search: the search space is empty; give hydra.sweeper.params "
                "(e.g. optim.lr: tag(log, interval(1e-4, 1e-2)))"
            )
        self._check_space(space, fixed)
        self.sweep_dir.mkdir(parents=True, exist_ok=True)
        OmegaConf.save(self.config, self.sweep_dir / "multirun.yaml")
        study = optuna.create_study(
            study_name=self.study_name,
            storage=self.storage or f"sqlite:///{self.sweep_dir.resolve() / 'optuna.db'}",
            sampler=self._sampler(stored=0),
            pruner=instantiate(self.pruner_cfg) if self.pruner_cfg else optuna.pruners.NopPruner(),
            direction=cast(Literal["maximize", "minimize"], self.direction),  # checked above
            load_if_exists=True,
        )
        _fail_interrupted(study)
        study.sampler = self._sampler(stored=len(study.trials))
        remaining = self.n_trials - len(study.trials)
        log.info(
            f"Optuna study {self.study_name!r}: {len(study.trials)} trials stored, "
            f"running {max(remaining, 0)} more; metric {self.metric} ({self.direction})"
        )
        returns: list[JobReturn] = []

        def objective(trial: Any) -> float:
            values = {key: search_space.suggest(trial, key, d) for key, d in space.items()}
            return self._run_trial(trial, fixed + search_space.to_overrides(values), returns)

        # optimize (not a bare ask/tell loop) so that samplers may stop the study themselves
        # (grid and brute-force samplers do once they have tried everything).
        study.optimize(objective, n_trials=max(remaining, 0), catch=(TrialFailed,))
        self._write_results(study)
        return returns

    def _sampler(self, stored: int) -> Any:
        """The configured sampler; for a study that already holds trials, with its seed moved
        on by their number, so that a search started again draws new parameters instead of
        replaying the first trials' (a seeded sampler starts its random draws over)."""
        seed = self.sampler_cfg.get("seed")
        if stored and seed is not None:
            return instantiate(self.sampler_cfg, seed=int(seed) + stored)
        return instantiate(self.sampler_cfg)

    def _run_trial(self, trial: Any, overrides: list[str], returns: list[JobReturn]) -> float:
        """The job's metric, or TrialPruned / TrialFailed (recorded, and the search goes on)."""
        from optuna import TrialPruned
        from optuna.trial import TrialState

        assert self.launcher is not None  # set by setup()
        with active_trial(trial, self.metric):
            try:
                (job,) = self.launcher.launch([overrides], initial_job_idx=trial.number)
            except SystemExit:  # a seqlab error inside the job, already reported on stderr
                raise TrialFailed("the job exited with a seqlab error") from None
        returns.append(job)
        state, value, why = outcome(job, self.metric)
        if state == TrialState.PRUNED:
            raise TrialPruned(why)
        if state == TrialState.FAIL:
            raise TrialFailed(why)
        assert value is not None  # a COMPLETE outcome carries its finite metric
        return value

    def _check_space(self, space: dict[str, Any], fixed: list[str]) -> None:
        """Compose one trial's config per parameter before the search starts, so a typo in a
        key stops it with one line instead of failing every trial."""
        assert self.hydra_context is not None and self.config is not None  # set by setup()
        loader = self.hydra_context.config_loader
        sample = search_space.sample_values(space)
        # The job's run dir only exists once launched; any path does for checking.
        base = [*fixed, f"paths.output_dir={self.sweep_dir}"]
        for override in [*fixed, *search_space.to_overrides(sample)]:
            try:
                cfg = loader.load_sweep_config(self.config, [*base, override])
            except Exception as error:
                raise SeqlabError(
                    f"hparams_search: unknown search-space parameter or value {override!r} "
                    f"({_first_line(error)}); check the key with `seqlab-train --cfg job`"
                ) from None
            with open_dict(cfg):
                del cfg["hydra"]
            validate(cfg, TrainConfig)

    def _write_results(self, study: Any) -> None:
        from optuna.trial import TrialState

        counts = {
            state.name: len(study.get_trials(deepcopy=False, states=(state,)))
            for state in (TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL)
        }
        results: dict[str, Any] = {"name": "optuna", "study": self.study_name, "trials": counts}
        if counts["COMPLETE"]:
            best = study.best_trial
            results.update(
                best_trial=best.number, best_value=best.value, best_params=dict(best.params)
            )
        OmegaConf.save(OmegaConf.create(results), self.sweep_dir / RESULTS_FILE)
        log.info(f"Optuna results: {results}")


def outcome(job: JobReturn, metric: str) -> tuple[Any, float | None, str]:
    """The trial state and value a finished job gives, and why when it is not COMPLETE."""
    from optuna import TrialPruned
    from optuna.trial import TrialState

    if job.status == JobStatus.COMPLETED:
        value = _metric(job._return_value, metric)
        if value is not None and math.isfinite(value):
            return TrialState.COMPLETE, value, ""
        return TrialState.FAIL, None, f"{metric} = {value}"
    error = job._return_value
    if isinstance(error, TrialPruned):
        return TrialState.PRUNED, None, str(error)
    return TrialState.FAIL, None, f"{type(error).__name__}: {error}"


def _metric(returned: Any, name: str) -> float | None:
    if not isinstance(returned, dict):
        return None
    if name not in returned:
        # a UCR run under data.protocol=train_loss or cv_epochs keeps no validation part
        hint = (
            " (the run kept no validation part: add data.protocol=val_split to the search)"
            if name.startswith("val/") and not any(key.startswith("val/") for key in returned)
            else ""
        )
        raise SeqlabError(
            f"hydra.sweeper.metric={name} is not a metric the run returns; use one of "
            f"{', '.join(sorted(returned))}{hint}"
        )
    return float(returned[name])


def _fail_interrupted(study: Any) -> None:
    from optuna.trial import TrialState

    for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        log.warning(f"trial {trial.number} was interrupted; recording it as failed")
        study.tell(trial.number, state=TrialState.FAIL)


def _first_line(error: Exception) -> str:
    return str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
