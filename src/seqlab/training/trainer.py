"""The Lightning Trainer of every seqlab command: seqlab's defaults (its own progress bar and
parameter table, atomic checkpoint files written by a background thread), a profiler that writes
into the run dir, and one line for the options Lightning or the machine refuses."""

from pathlib import Path
from typing import Any

import lightning as L
from lightning.fabric.plugins.environments import SLURMEnvironment
from lightning.fabric.utilities.exceptions import MisconfigurationException
from lightning.pytorch.callbacks import Callback, RichProgressBar
from lightning.pytorch.loggers import Logger
from lightning.pytorch.profilers import AdvancedProfiler, Profiler, PyTorchProfiler, SimpleProfiler

from seqlab.errors import SeqlabError
from seqlab.training.callbacks.preemption import StopTogether
from seqlab.training.checkpoint_io import AtomicCheckpointIO, OrderedAsyncCheckpointIO
from seqlab.training.lightning_private import skip_idle_result_moves


def build_trainer(
    options: dict[str, Any], run_dir: Path, callbacks: list[Callback], loggers: list[Logger]
) -> L.Trainer:
    options = dict(options)
    if "spawn" in str(options.get("strategy", "")):
        # Spawned workers receive torchmetrics' state tensors as shared memory, so every rank
        # updates the same tensor and the metrics come out multiplied.
        raise SeqlabError(
            f"trainer.strategy={options['strategy']} is not supported (metric state "
            "is shared between spawned processes); use trainer.strategy=ddp"
        )
    if not any(isinstance(c, RichProgressBar) for c in callbacks):
        options.setdefault("enable_progress_bar", False)
    # seqlab prints its own exact table (print_parameters); Lightning's would repeat it.
    options.setdefault("enable_model_summary", False)
    skip_idle_result_moves()  # every self.log call otherwise rebuilds its stored result
    # Checkpoint files are written by a background thread (a checkpoint in an epoch would
    # otherwise stall short epochs on the file write); see training/checkpoint_io.py.
    plugins: list[Any] = [OrderedAsyncCheckpointIO(AtomicCheckpointIO())]
    if SLURMEnvironment.detect():
        # SIGUSR1 stops the run at an epoch boundary and requeues it (training/signals.py);
        # Lightning's auto-requeue would checkpoint mid-epoch, which no resume replays exactly.
        plugins.append(SLURMEnvironment(auto_requeue=False))
    options.setdefault("plugins", plugins)
    # Under DDP, all ranks stop on the same step when a stop signal reaches any of them.
    callbacks = [*callbacks, StopTogether()]
    if isinstance(options.get("profiler"), str):
        options["profiler"] = profiler(options["profiler"], run_dir)
    try:
        return L.Trainer(
            default_root_dir=run_dir, logger=loggers or False, callbacks=callbacks, **options
        )
    except TypeError as error:
        raise SeqlabError(
            f"config: trainer: {error}; keys under trainer are lightning.Trainer arguments"
        ) from None
    except (MisconfigurationException, ValueError) as error:
        # what this machine or Lightning does not accept: no GPU, an unknown precision
        chosen = ", ".join(
            f"{k}={options.get(k)}" for k in ("accelerator", "precision", "strategy")
        )
        raise SeqlabError(
            f"config: trainer ({chosen}): {str(error).splitlines()[0]}; fix the trainer options "
            "(trainer=cpu runs anywhere)"
        ) from None


def profiler(name: str, run_dir: Path) -> Profiler:
    """Lightning's profiler by its name, writing its report into the run dir (given a name
    alone, Lightning only prints it)."""
    profilers = {"simple": SimpleProfiler, "advanced": AdvancedProfiler, "pytorch": PyTorchProfiler}
    if name not in profilers:
        raise SeqlabError(
            f"trainer.profiler={name!r} is not a profiler; use one of {', '.join(profilers)}"
        )
    return profilers[name](dirpath=run_dir, filename="profiler")
