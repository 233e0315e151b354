"""Checks that must happen before Hydra writes into the run dir.

Hydra creates the run dir and writes .hydra/ and the log file before the app runs, so a bad
config value, a run dir that is a file, a folder that cannot be written, a run dir that another
process is using, or one that holds a finished or stopped run would otherwise leave a folder
behind, end in Hydra's traceback, or overwrite the other run's files. This callback
(conf/hydra/default.yaml) runs just before that: one line and exit status 2 with nothing made, or
the run dir made, proven writable and locked for this process (seqlab.training.run_lock).
A multirun's jobs are checked by their own runs (their values are known only then); its sweep
dir continues only the same sweep (cli/train.py).
"""

import tempfile
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig, OmegaConf

from seqlab.config import SCHEMAS, TrainConfig, validate
from seqlab.errors import SeqlabError, exit_with
from seqlab.files import user_error
from seqlab.training.run_lock import lock_run_dir, unlock_run_dir
from seqlab.training.run_state import check_start


class RunDirCheck(Callback):
    def on_run_start(self, config: DictConfig, **kwargs: Any) -> None:
        run_dir = Path(str(config.hydra.run.dir))
        try:
            name = str(config.hydra.job.config_name)
            validated = check_config(config, name, run_dir)
            if name == "train":
                check_start(run_dir, resuming=_resumes(validated, run_dir))
            prepare(run_dir, "hydra.run.dir")
            lock_run_dir(run_dir)
            if name == "train":  # again, now that no other process can start here
                check_start(run_dir, resuming=_resumes(validated, run_dir))
        except SeqlabError as error:
            unlock_run_dir(run_dir)
            exit_with(error)

    def on_run_end(self, config: DictConfig, **kwargs: Any) -> None:
        unlock_run_dir(Path(str(config.hydra.run.dir)))

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        sweep_dir = Path(str(config.hydra.sweep.dir))
        try:
            if "BasicSweeper" in str(config.hydra.sweeper.get("_target_", "")):
                # (a search numbers its trials after the stored ones: nothing to mix)
                check_same_sweep(sweep_dir, list(config.hydra.overrides.task))
            prepare(sweep_dir, "hydra.sweep.dir")
        except SeqlabError as error:
            exit_with(error)


def check_config(config: DictConfig, name: str, run_dir: Path) -> Any:
    """The command's config validated as its app will validate it (None: a config seqlab has
    no schema for)."""
    schema = SCHEMAS.get(name)
    if schema is None:
        return None
    task = OmegaConf.masked_copy(config, [str(key) for key in config if key != "hydra"])
    if "paths" in task and "output_dir" in task.paths:
        # resolved by Hydra only once it has made the run dir
        task.paths.output_dir = str(run_dir.absolute())
    return validate(task, schema)


def _resumes(validated: Any, run_dir: Path) -> bool:
    """Whether this seqlab-train continues the run in `run_dir`."""
    if not isinstance(validated, TrainConfig):  # only seqlab-train continues a run
        return False
    resume, ckpt_path = validated.resume, validated.ckpt_path
    if resume is not None and resume != "auto":
        return Path(resume).expanduser().resolve() == run_dir.resolve()
    return resume == "auto" or ckpt_path == "last"


def check_same_sweep(sweep_dir: Path, overrides: list[str]) -> None:
    """A sweep dir started again continues the same sweep (its finished jobs are skipped, its
    stopped ones resumed); another sweep would mix its jobs with the first one's."""
    stored = sweep_dir / "multirun.yaml"
    if not stored.is_file():
        return
    earlier = OmegaConf.load(stored)
    before = [str(o) for o in OmegaConf.select(earlier, "hydra.overrides.task", default=[])]
    if sorted(before) != sorted(overrides):
        raise SeqlabError(
            f"{sweep_dir} holds another sweep (its overrides: {' '.join(before) or 'none'}); "
            "run that same command to continue it, or use a new hydra.sweep.dir"
        )


def prepare(folder: Path, key: str) -> None:
    """Make `folder` and write a file into it (the only proof that holds for every user,
    root included, and every kind of mount)."""
    if folder.is_file():
        raise SeqlabError(f"{key}={folder} is a file, not a folder; remove it or choose another")
    for parent in folder.parents:
        if parent.exists() and not parent.is_dir():
            raise SeqlabError(
                f"{parent} is a file, so {key}={folder} cannot be made; rename or remove that "
                "file, or choose another folder"
            )
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as error:
        raise user_error(error, folder / "probe") from error
