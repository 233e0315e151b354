"""The two runs seqlab knows, from a validated config to metrics.json.

train:    the run dir's lock and state -> build the run, fit and test it (training/run.py); with
          ensemble.seeds, once per seed and then the ensemble (training/ensemble.py)
evaluate: checkpoint -> model + data config -> Trainer.test (or .validate) -> metrics.json
"""

import sys
from pathlib import Path

import lightning as L
from lightning.pytorch.utilities.exceptions import SIGTERMException

from seqlab.config import EvalConfig, TaskConfig, TrainConfig
from seqlab.console import log_lightning_once, quiet_known_warnings
from seqlab.data.registry import build_datamodule
from seqlab.errors import SeqlabError
from seqlab.files import remove_partial_files
from seqlab.layout import CHECKPOINT_DIR, METRICS_FILE
from seqlab.models.modules import load_module, require_same_meta
from seqlab.models.tasks import TASKS
from seqlab.schema import plain, to_dataclass
from seqlab.training.loggers import build_loggers, finish_wandb
from seqlab.training.results import floats, write_rank_zero_metrics
from seqlab.training.resume import ResumePoint, resume_point
from seqlab.training.run import FuturesScoring, build_run, fit_and_test, futures
from seqlab.training.run_callbacks import testing_callbacks
from seqlab.training.run_lock import is_first_process, lock_run_dir, unlock_run_dir
from seqlab.training.run_state import RunState, config_digest, write_status
from seqlab.training.signals import (
    Preempted,
    PreemptionSignals,
    requeue_slurm_job,
    stop_line,
    stop_signal,
)
from seqlab.training.trainer import build_trainer


def train(config: TrainConfig) -> dict[str, float]:
    log_lightning_once()
    quiet_known_warnings()
    resume = resume_point(Path(config.paths.output_dir), config.ckpt_path, config.resume)
    run_dir = resume.run_dir
    locked = lock_run_dir(run_dir)
    if is_first_process():  # holds the lock: what a killed run left half-written goes
        remove_partial_files(run_dir)
        remove_partial_files(run_dir / CHECKPOINT_DIR)
    for skipped in resume.skipped:
        print(f"skipping {skipped}")
    if resume.continued:
        print(f"resuming {run_dir} from {resume.ckpt_path}")
    digest = config_digest(config)
    received = PreemptionSignals(run_dir / METRICS_FILE)
    try:
        with received.installed():
            if is_first_process():
                write_status(run_dir, RunState.RUNNING, digest)
            metrics = _train(config, resume, received)
            if is_first_process():
                write_status(run_dir, RunState.FINISHED, digest)
            return metrics
    except (Preempted, SIGTERMException):
        signum = stop_signal(received)
        if is_first_process():
            write_status(run_dir, RunState.STOPPED, digest, signum)
            print(f"seqlab: {stop_line(signum, run_dir)}", file=sys.stderr)
            requeued = requeue_slurm_job(signum)
            if requeued is not None:
                print(f"seqlab: {requeued}", file=sys.stderr)
        raise SystemExit(128 + signum) from None
    finally:
        if locked:
            unlock_run_dir(run_dir)


def _train(
    config: TrainConfig, resume: ResumePoint, received: PreemptionSignals
) -> dict[str, float]:
    try:
        if config.ensemble.seeds:
            from seqlab.training.ensemble import train_ensemble

            return train_ensemble(config, resume)
        return fit_and_test(build_run(config, resume)).metrics
    except (Preempted, SIGTERMException):
        finish_wandb(exit_code=128 + stop_signal(received), preempted=True)
        raise
    finally:
        finish_wandb()


def evaluate(config: EvalConfig) -> dict[str, float]:
    if config.input is not None:
        from seqlab.training.predict_trainer import evaluate_input

        return evaluate_input(config)
    log_lightning_once()
    quiet_known_warnings()
    run_dir = Path(config.paths.output_dir)
    L.seed_everything(config.seed, workers=True, verbose=False)
    module, _ = load_module(config.ckpt_path)
    # the checkpoint's hyperparameters: plain values (models/classifier.py says why)
    hparams = module.hparams
    datamodule = build_datamodule(config.data.apply(hparams["data"]), module.task)
    generates = TASKS[module.task].samples
    datamodule.setup("fit" if generates else "test")  # the baselines fit the training part
    require_same_meta(
        config.ckpt_path,
        datamodule.meta.to_dict(),
        hparams,
        "evaluate on the data it was trained on",
    )
    if config.split == "val" and not datamodule.has_validation:
        raise SeqlabError(
            f"{config.ckpt_path}: trained with data.protocol={datamodule.protocol}, which "
            "keeps no validation part; evaluate split=test"
        )
    try:
        loggers = build_loggers(config.logger, run_dir, plain(config))
        callbacks = testing_callbacks(config.logger, run_dir, datamodule)
        trainer = build_trainer(config.trainer, run_dir, callbacks, loggers)
        run = trainer.validate if config.split == "val" else trainer.test
        metrics = floats(run(module, datamodule=datamodule, verbose=False)[0])
        if generates and config.split == "test" and trainer.is_global_zero:
            # as the training run scored its best checkpoint: its task's sampling settings,
            # this command's seed
            scoring = FuturesScoring(
                task=to_dataclass(TaskConfig, hparams["task"]),
                average=hparams["metrics"]["average"],
                seed=config.seed,
                run_dir=run_dir,
            )
            metrics |= futures(module, datamodule, trainer, scoring)
        write_rank_zero_metrics(run_dir, metrics, trainer)
    finally:
        finish_wandb()
    return metrics
