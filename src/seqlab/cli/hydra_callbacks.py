"""Checks on the run dir that must happen before Hydra writes into it.

Hydra creates the run dir and writes .hydra/ and the log file before the app runs, so a run dir
that is a file, a folder that cannot be written, or a run dir that another process is using
would otherwise end in Hydra's traceback, or in overwritten files of the other run. This
callback (conf/hydra/default.yaml) runs just before that: one line and exit status 2, or the
run dir made, proven writable and locked for this process (seqlab.training.run_lock).
"""

import tempfile
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig

from seqlab.errors import SeqlabError, exit_with
from seqlab.files import user_error
from seqlab.training.run_lock import lock_run_dir, unlock_run_dir


class RunDirCheck(Callback):
    def on_run_start(self, config: DictConfig, **kwargs: Any) -> None:
        run_dir = Path(str(config.hydra.run.dir))
        try:
            prepare(run_dir, "hydra.run.dir")
            lock_run_dir(run_dir)
        except SeqlabError as error:
            exit_with(error)

    def on_run_end(self, config: DictConfig, **kwargs: Any) -> None:
        unlock_run_dir(Path(str(config.hydra.run.dir)))

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        try:
            prepare(Path(str(config.hydra.sweep.dir)), "hydra.sweep.dir")
        except SeqlabError as error:
            exit_with(error)


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
