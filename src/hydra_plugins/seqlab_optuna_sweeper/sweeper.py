"""An Optuna search as a Hydra sweeper: each trial draws its values, launches its job, reports.

Why not hydra-optuna-sweeper: its stable release needs optuna<3 (no pruning with Lightning 2,
sqlite only with SQLAlchemy<2), and it never hands the trial to the job, so no job can prune.
This one runs each job through Hydra's launcher (its own run dir, saved config and overrides,
like any multirun job) inside `active_trial`, so the training reports its epoch-end metric to
the trial and the pruner can stop it (seqlab/callbacks/pruning.py).

Outcomes: the job's metric is finite -> COMPLETE; the job raised optuna.TrialPruned -> PRUNED;
anything else (an exception, a seqlab error, a missing or non-finite metric) -> FAIL, and the
search goes on.

Many workers, one study: any number of processes may run the same command (same storage and
study_name, each its own sweep dir or not) at once, on one host or many. Each worker, under the
storage's lock (storage.py), counts the trials that take a slot (slots.py) and stops at n_trials,
or asks for the next trial and draws its values; so the workers run n_trials trials between
them, and none draws a parameter set another has taken. The pruner reads every worker's trials
from the storage. Running the command again resumes the study the same way: a trial whose
worker died is recorded FAIL once its heartbeat is grace_period seconds old, and its slot runs
again; job run dirs are named after the trial numbers, unique in the study.
"""

import logging
import math
import os
import socket
import warnings
from pathlib import Path
from typing import Any, Literal, cast

from hydra.core.plugins import Plugins
from hydra.core.utils import JobReturn, JobStatus
from hydra.plugins.sweeper import Sweeper
from hydra.types import HydraContext, TaskFunction
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf, open_dict

from hydra_plugins.seqlab_optuna_sweeper import slots
from hydra_plugins.seqlab_optuna_sweeper import space as search_space
from hydra_plugins.seqlab_optuna_sweeper.storage import Store, open_store
from seqlab.config import TrainConfig, validate
from seqlab.errors import SeqlabError, exit_with
from seqlab.files import write_text_atomic
from seqlab.training.pruning import active_trial

log = logging.getLogger(__name__)
RESULTS_FILE = "optimization_results.yaml"
# Draws in a row that may repeat a taken parameter set before the search gives up.
MAX_DRAWS = 100


class SeqlabOptunaSweeper(Sweeper):
    def __init__(
        self,
        metric: str,
        direction: str,
        n_trials: int,
        study_name: str,
        storage: str | None,
        grace_period: int,
        sampler: DictConfig,
        pruner: DictConfig | None,
        params: DictConfig,
    ):
        self.metric, self.direction, self.n_trials = metric, direction, n_trials
        self.study_name, self.storage, self.grace_period = study_name, storage, grace_period
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
        store = open_store(self.storage, self.sweep_dir, self.grace_period)
        write_text_atomic(self.sweep_dir / "multirun.yaml", OmegaConf.to_yaml(self.config))
        with store.lock():  # concurrent workers would race creating the same study
            study = optuna.create_study(
                study_name=self.study_name,
                storage=store.storage,
                sampler=self._sampler(0),
                pruner=(
                    instantiate(self.pruner_cfg) if self.pruner_cfg else optuna.pruners.NopPruner()
                ),
                direction=cast(Literal["maximize", "minimize"], self.direction),  # checked above
                load_if_exists=True,
            )
        # Grid and brute-force samplers call study.stop() once their space is used up, which
        # only optimize() allows; this loop ends by itself when every set is taken (slots.py).
        study.stop = lambda: None  # type: ignore[method-assign]
        taken = sum(map(slots.takes_slot, study.get_trials(deepcopy=False)))
        log.info(
            f"Optuna study {self.study_name!r} in {store.where}: {taken} of {self.n_trials} "
            f"trials taken, running up to {max(self.n_trials - taken, 0)} more (shared with "
            f"any other worker on the study); metric {self.metric} ({self.direction})"
        )
        returns: list[JobReturn] = []
        while (reserved := self._reserve(study, store, space)) is not None:
            trial, values = reserved
            self._run_trial(study, store, trial, fixed + search_space.to_overrides(values), returns)
        self._write_results(study)
        return returns

    def _reserve(
        self, study: Any, store: Store, space: dict[str, Any]
    ) -> tuple[Any, dict[str, Any]] | None:
        """(the next trial, its values), or None when the study holds its trials; under the
        storage's lock, so that no other worker counts or draws in between."""
        from optuna.trial import TrialState

        with store.lock():
            store.fail_stale(study)
            for _ in range(MAX_DRAWS):
                trials = study.get_trials(deepcopy=False)
                if sum(map(slots.takes_slot, trials)) >= self.n_trials:
                    log.info(f"the study holds its {self.n_trials} trials; this worker stops")
                    return None
                taken = slots.taken_sets(trials, space)
                if len(taken) == slots.size(space):
                    log.info("every parameter set of the search space is taken; this worker stops")
                    return None
                study.sampler = self._sampler(len(trials))
                with warnings.catch_warnings():  # Store.heartbeat beats outside optimize()
                    warnings.filterwarnings("ignore", "Heartbeat of storage is supposed to")
                    trial = study.ask()
                values = {key: search_space.suggest(trial, key, d) for key, d in space.items()}
                first = slots.repeated(values, taken, space)
                if first is None:
                    trial.set_user_attr(slots.WORKER_ATTR, f"{socket.gethostname()} {os.getpid()}")
                    return trial, values
                log.info(f"trial {trial.number} drew the parameters of trial {first}: skipped")
                trial.set_user_attr(slots.SKIPPED_ATTR, first)
                study.tell(trial, state=TrialState.FAIL)
                seed = self._seed(len(trials))
                free = slots.untaken(space, taken, len(trials) if seed is None else seed)
                if free is not None:
                    study.enqueue_trial(free)  # the next ask takes it
        raise SeqlabError(
            f"hparams_search: the sampler drew parameter sets already taken {MAX_DRAWS} times in "
            "a row; widen the search space or lower hydra.sweeper.n_trials"
        )

    def _sampler(self, drawn: int) -> Any:
        """The configured sampler, seeded for the study's next draw: with many workers (or a
        search started again) a sampler seeded once would replay the same draws in each."""
        seed = self._seed(drawn)
        if seed is None:
            return instantiate(self.sampler_cfg)
        return instantiate(self.sampler_cfg, seed=seed)

    def _seed(self, drawn: int) -> int | None:
        seed = self.sampler_cfg.get("seed")
        return None if seed is None else int(seed) + drawn

    def _run_trial(
        self, study: Any, store: Store, trial: Any, overrides: list[str], returns: list[JobReturn]
    ) -> None:
        """Run the trial's job while its heartbeat goes on, and tell the study its outcome."""
        from optuna.trial import TrialState

        assert self.launcher is not None  # set by setup()
        with store.heartbeat(trial), active_trial(trial, self.metric):
            try:
                (job,) = self.launcher.launch([overrides], initial_job_idx=trial.number)
            except SystemExit as stop:
                if not _stopped_by_signal(stop):
                    job = None  # a seqlab error inside the job, already reported on stderr
                else:  # the worker is stopping: its trial takes no slot, so that it runs again
                    study.tell(trial, state=TrialState.FAIL, skip_if_finished=True)
                    raise
            except BaseException:  # KeyboardInterrupt outside the job, or a bug: as above
                study.tell(trial, state=TrialState.FAIL, skip_if_finished=True)
                raise
        if job is None:
            state, value, why = TrialState.FAIL, None, "the job exited with a seqlab error"
        else:
            returns.append(job)
            state, value, why = outcome(job, self.metric)
        _tell(study, trial, state, value, why)

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
        """The study as this worker leaves it (other workers may still be running trials)."""
        from optuna.trial import TrialState

        trials = study.get_trials(deepcopy=False)
        counts = {
            state.name: sum(t.state == state for t in trials)
            for state in (TrialState.COMPLETE, TrialState.PRUNED, TrialState.RUNNING)
        }
        failed = [t for t in trials if t.state == TrialState.FAIL]
        counts["FAIL"] = sum(slots.FAILURE_ATTR in t.user_attrs for t in failed)
        counts["SKIPPED"] = sum(slots.SKIPPED_ATTR in t.user_attrs for t in failed)
        counts["ABANDONED"] = len(failed) - counts["FAIL"] - counts["SKIPPED"]
        results: dict[str, Any] = {"name": "optuna", "study": self.study_name, "trials": counts}
        if counts["COMPLETE"]:
            best = study.best_trial
            results.update(
                best_trial=best.number, best_value=best.value, best_params=dict(best.params)
            )
        text = OmegaConf.to_yaml(OmegaConf.create(results))
        write_text_atomic(self.sweep_dir / RESULTS_FILE, text)
        log.info(f"Optuna results: {results}")


def _tell(study: Any, trial: Any, state: Any, value: float | None, why: str) -> None:
    """Tell the study, unless another worker recorded the trial FAIL meanwhile (its heartbeat
    was late by grace_period: a hung or suspended worker), whose slot then ran again."""
    from optuna.exceptions import UpdateFinishedTrialError
    from optuna.trial import TrialState

    try:
        if state == TrialState.FAIL:
            trial.set_user_attr(slots.FAILURE_ATTR, why)
        told = study.tell(trial, value, state=state, skip_if_finished=True)
    except UpdateFinishedTrialError:
        told = None
    if told is None or told.state != state:
        log.warning(
            f"trial {trial.number} ended {state.name} but was recorded FAIL by another worker "
            "meanwhile (no heartbeat for hydra.sweeper.grace_period seconds); its result is "
            "not counted"
        )
    elif state == TrialState.COMPLETE:
        log.info(f"trial {trial.number} finished: {value} with {trial.params}")
    else:
        log.info(f"trial {trial.number} {state.name}: {why}")


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


def _stopped_by_signal(stop: SystemExit) -> bool:
    """A run stopped by SIGTERM, SIGINT or SIGUSR1 exits with 128 + the signal's number
    (seqlab/training/signals.py), a seqlab error with 2."""
    return isinstance(stop.code, int) and stop.code > 128


def _first_line(error: Exception) -> str:
    return str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
