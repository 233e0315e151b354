"""One test per Lightning internal that seqlab.training.lightning_private uses: each fails on a
Lightning upgrade that renames, removes or reshapes it."""

import inspect
import threading

import pytest
import torch
from lightning.fabric.strategies.launchers import subprocess_script as fabric_launcher
from lightning.pytorch.callbacks import ModelCheckpoint, RichProgressBar
from lightning.pytorch.plugins.io import AsyncCheckpointIO, TorchCheckpointIO
from lightning.pytorch.strategies.launchers import subprocess_script as pytorch_launcher
from lightning.pytorch.trainer.connectors.logger_connector import result as lightning_result

from seqlab.training import lightning_private


def parameters(function) -> list[str]:
    return list(inspect.signature(function).parameters)


@pytest.mark.parametrize(
    "method,expected",
    [
        ("_should_save_on_train_epoch_end", ["self", "trainer"]),
        ("_save_last_checkpoint", ["self", "trainer", "monitor_candidates"]),
        ("_monitor_candidates", ["self", "trainer"]),
        ("_save_checkpoint", ["self", "trainer", "filepath"]),
        ("_remove_checkpoint", ["self", "trainer", "filepath"]),
    ],
)
def test_model_checkpoint_internals_keep_their_shape(method, expected):
    assert parameters(getattr(ModelCheckpoint, method)) == expected


@pytest.mark.parametrize("hook", ["on_validation_end", "on_train_epoch_end", "on_train_end"])
def test_model_checkpoint_writes_last_through_the_overridden_method(hook):
    """BestAndLastCheckpoint silences Lightning's own last.ckpt writes by overriding
    _save_last_checkpoint, which these hooks call by that name."""
    assert "self._save_last_checkpoint(" in inspect.getsource(getattr(ModelCheckpoint, hook))


@pytest.mark.parametrize("method", ["_update_best_and_save", "_save_none_monitor_checkpoint"])
def test_model_checkpoint_saves_and_removes_a_best_through_the_overridden_methods(method):
    """BestAndLastCheckpoint keeps a new best in memory and defers the removal of the one it
    replaces by overriding _save_checkpoint and _remove_checkpoint, called by these names."""
    source = inspect.getsource(getattr(ModelCheckpoint, method))
    assert "self._save_checkpoint(trainer, filepath)" in source
    assert "self._remove_checkpoint(trainer, " in source


def test_model_checkpoint_names_last_before_it_saves_it():
    """BestAndLastCheckpoint tells last.ckpt from a best by last_model_path, which
    _save_last_checkpoint sets before it saves."""
    source = inspect.getsource(ModelCheckpoint._save_last_checkpoint)
    named = source.index("self.last_model_path = ")
    assert named < source.index("self._save_checkpoint(trainer, filepath)")


@pytest.mark.parametrize(
    "method,expected",
    [
        ("_initialize_train_progress_bar_id", ["self"]),
        ("_update", ["self", "progress_bar_id", "current", "visible", "hard"]),
    ],
)
def test_rich_progress_bar_internals_keep_their_shape(method, expected):
    assert parameters(getattr(RichProgressBar, method)) == expected


def test_the_checkpoint_connector_dumps_what_a_save_writes():
    from lightning.pytorch.trainer.connectors.checkpoint_connector import _CheckpointConnector

    assert parameters(_CheckpointConnector.dump_checkpoint) == ["self", "weights_only"]


def test_the_async_writer_runs_queued_tasks_in_order_and_reraises_their_errors(tmp_path):
    io_plugin = AsyncCheckpointIO(TorchCheckpointIO())
    done = []
    lightning_private.run_in_writer_thread(io_plugin, lambda: done.append(1))

    def fail() -> None:
        raise OSError("disk full")

    lightning_private.run_in_writer_thread(io_plugin, fail)
    finished = threading.Event()
    lightning_private.run_in_writer_thread(io_plugin, finished.set)
    assert finished.wait(timeout=10)
    assert done == [1]
    with pytest.raises(OSError, match="disk full"):
        lightning_private.run_in_writer_thread(io_plugin, lambda: None)


@pytest.mark.parametrize("launcher", [fabric_launcher, pytorch_launcher])
def test_the_hydra_relaunch_command_is_replaced_in_both_launchers(launcher, monkeypatch):
    for module in (fabric_launcher, pytorch_launcher):  # restored after the test
        monkeypatch.setattr(module, "_hydra_subprocess_cmd", module._hydra_subprocess_cmd)
    assert parameters(launcher._hydra_subprocess_cmd) == ["local_rank"]

    def command(local_rank: int):
        return ["true"], "."

    lightning_private.set_hydra_relaunch_command(command)
    assert launcher._hydra_subprocess_cmd is command
    # the launcher looks the function up at launch time, by this name
    assert "_hydra_subprocess_cmd(" in inspect.getsource(launcher)


def test_wandb_logger_keeps_its_init_arguments_where_seqlab_drops_anonymous(tmp_path):
    from lightning.pytorch.loggers import WandbLogger

    logger = WandbLogger(save_dir=str(tmp_path), offline=True)
    assert "anonymous" in logger._wandb_init
    lightning_private.drop_wandb_anonymous(logger)
    assert "anonymous" not in logger._wandb_init and logger._wandb_init["project"]


def test_log_moves_its_stored_result_to_the_value_device_on_every_call():
    """The call skip_idle_result_moves makes cheap, by this name and argument."""
    source = inspect.getsource(lightning_result._ResultCollection.log)
    assert "self[key].to(value.device)" in source


def test_results_in_place_are_not_moved_and_others_still_are(monkeypatch):
    monkeypatch.setattr(lightning_result._ResultMetric, "to", lightning_result._ResultMetric.to)
    walks = []
    original = lightning_result._ResultMetric.to

    def counted(self, *args, **kwargs):
        walks.append(args)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(lightning_result._ResultMetric, "to", counted)
    lightning_private.skip_idle_result_moves()
    lightning_private.skip_idle_result_moves()  # a second call changes nothing
    results = lightning_result._ResultCollection(training=True)
    for value in (1.0, 3.0):
        results.log("on_train_epoch_end", "train/f1", torch.tensor(value), on_epoch=True)
    assert walks == []  # the stored result was on the CPU already
    assert float(results["on_train_epoch_end.train/f1"].compute()) == 2.0
    meta = torch.device("meta")
    moved = results["on_train_epoch_end.train/f1"].to(meta)
    assert walks == [(meta,)] and moved.value.device == meta


def test_a_requested_stop_is_what_lightning_reads_after_a_step_and_an_evaluation_batch():
    """request_stop sets the flag Lightning's own SIGTERM handler sets; its loops raise
    SIGTERMException where they read it."""
    import lightning as L
    from lightning.pytorch.loops import _EvaluationLoop, _TrainingEpochLoop

    trainer = L.Trainer(logger=False, enable_checkpointing=False, enable_progress_bar=False)
    assert not trainer.received_sigterm
    lightning_private.request_stop(trainer)
    assert trainer.received_sigterm
    for loop in (_TrainingEpochLoop, _EvaluationLoop):
        assert "trainer.received_sigterm" in inspect.getsource(loop)
