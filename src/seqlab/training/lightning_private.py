"""Every Lightning internal seqlab relies on, in one place.

Lightning has no public hook for these. Each function names what seqlab needs, and
tests/test_lightning_private.py checks each internal it calls, so a Lightning upgrade that moves
one fails there, loudly, instead of silently changing checkpoints or DDP launches.
"""

from collections.abc import Callable, Sequence
from typing import Any

import torch
from lightning.pytorch.callbacks import ModelCheckpoint, RichProgressBar
from lightning.pytorch.loggers import WandbLogger
from lightning.pytorch.plugins.io import AsyncCheckpointIO
from lightning.pytorch.trainer.connectors.logger_connector.result import _ResultMetric


def saves_on_train_epoch_end(checkpoint: ModelCheckpoint, trainer: Any) -> bool:
    """Whether ModelCheckpoint saves at the end of the training epoch (no validation this
    epoch) rather than at the end of validation."""
    return checkpoint._should_save_on_train_epoch_end(trainer)


def snapshot_checkpoint(trainer: Any) -> dict[str, Any]:
    """The checkpoint Lightning would write now, with every tensor copied, so that training can
    go on changing the weights in place while it waits in memory."""
    from lightning.fabric.utilities.apply_func import apply_to_collection

    checkpoint = trainer._checkpoint_connector.dump_checkpoint(weights_only=False)
    return apply_to_collection(checkpoint, torch.Tensor, lambda t: t.detach().clone())


def snapshot_best(trainer: Any) -> dict[str, Any]:
    """What testing, evaluation, prediction and export read from a best checkpoint: the weights
    (copied to the CPU, so that training can go on changing them), hyperparameters, the
    module's and data module's own entries; no optimizer, scheduler, loop or callback state.
    Taken on every rank, as Lightning's own save does (a sharded strategy gathers the weights)."""
    checkpoint = trainer._checkpoint_connector.dump_checkpoint(weights_only=True)
    del checkpoint["loops"]
    weights = checkpoint["state_dict"]
    checkpoint["state_dict"] = {
        name: tensor.detach().to("cpu", copy=True) for name, tensor in weights.items()
    }
    return checkpoint


def save_last(checkpoint: ModelCheckpoint, trainer: Any) -> None:
    """Write last.ckpt now, with the metrics ModelCheckpoint would put in its name. Calls
    ModelCheckpoint's own method, past any override: BestAndLastCheckpoint overrides it to a
    no-op so that Lightning's calls (after each new best) write nothing."""
    ModelCheckpoint._save_last_checkpoint(
        checkpoint, trainer, checkpoint._monitor_candidates(trainer)
    )


def advance_train_bar(bar: RichProgressBar, batches_done: int) -> None:
    """Move the training bar to `batches_done` without Lightning's per-batch metric refresh;
    creates the bar first when a run resumes in the middle of an epoch."""
    if not bar.is_disabled and bar.train_progress_bar_id is None:
        bar._initialize_train_progress_bar_id()
    bar._update(bar.train_progress_bar_id, batches_done)


def run_in_writer_thread(io_plugin: AsyncCheckpointIO, task: Callable[[], None]) -> None:
    """Queue `task` behind the plugin's pending writes, on its single writer thread; an error
    raised there is raised here at the next call, as failed writes are."""
    io_plugin._ensure_setup()

    def run() -> None:
        try:
            task()
        except BaseException as error:  # re-raised on the training thread, as saves are
            io_plugin._error = error

    assert io_plugin._executor is not None  # _ensure_setup created it
    io_plugin._executor.submit(run)
    if io_plugin._error:
        raise io_plugin._error


def set_hydra_relaunch_command(command: Callable[[int], tuple[Sequence[str], str]]) -> None:
    """Make Lightning's DDP launcher relaunch the other ranks of a Hydra app with `command`
    (local rank -> argv and working dir) instead of the parent's whole command line."""
    from lightning.fabric.strategies.launchers import subprocess_script as fabric_launcher
    from lightning.pytorch.strategies.launchers import subprocess_script as pytorch_launcher

    fabric_launcher._hydra_subprocess_cmd = command  # type: ignore[assignment]
    pytorch_launcher._hydra_subprocess_cmd = command  # type: ignore[assignment]


def drop_wandb_anonymous(logger: WandbLogger) -> None:
    """WandbLogger always passes `anonymous` to wandb.init, and W&B 0.31 then prints on every run
    that the setting has no effect; without the key W&B says nothing."""
    logger._wandb_init.pop("anonymous", None)


def skip_idle_result_moves() -> None:
    """Make `LightningModule.log` skip moving a stored result that is on the value's device
    already. Lightning moves the result (`_ResultMetric.to(value.device)`) on every log call by
    rebuilding its whole attribute dict, metadata included, even when every tensor is in place:
    more work than the rest of the call. Other moves go through Lightning's own code."""
    move = _ResultMetric.to
    if move.__name__ == "to_unless_in_place":  # patched already
        return

    def to_unless_in_place(self: _ResultMetric, *args: Any, **kwargs: Any) -> _ResultMetric:
        in_place = (
            len(args) == 1
            and not kwargs
            and isinstance(args[0], torch.device)
            and all(tensor.device == args[0] for tensor in _result_tensors(self))
        )
        return self if in_place else move(self, *args, **kwargs)

    _ResultMetric.to = to_unless_in_place  # type: ignore[method-assign]


def _result_tensors(result: _ResultMetric) -> list[torch.Tensor]:
    """Every tensor `_ResultMetric.to` would move: its attributes and its states' defaults."""
    state = vars(result)
    defaults = state.get("_defaults", {})
    return [
        value for value in (*state.values(), *defaults.values()) if isinstance(value, torch.Tensor)
    ]


def request_stop(trainer: Any) -> None:
    """Stop the running stage at Lightning's next check, as its own SIGTERM handler would, but
    without that handler's collective (callbacks/preemption.py says why)."""
    trainer._signal_connector.received_sigterm = True
