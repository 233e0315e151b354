"""last.ckpt follows callbacks.checkpoint.last_every_s: written at the first epoch end that long
after the previous write, always at the end of fit, and after every epoch with 0."""

from pathlib import Path

import lightning as L
import pytest
from lightning.pytorch.callbacks import Callback
from lightning.pytorch.demos.boring_classes import BoringModel
from lightning.pytorch.plugins.io import TorchCheckpointIO

from seqlab.errors import SeqlabError
from seqlab.training.callbacks.checkpoint import BestAndLastCheckpoint

from conftest import compose_train

pytestmark = pytest.mark.slow
SECONDS_PER_EPOCH = 4.0
BATCHES = 2  # training batches an epoch


class RecordingIO(TorchCheckpointIO):
    """Every checkpoint the Trainer writes, as (file name, epochs trained)."""

    def __init__(self) -> None:
        super().__init__()
        self.saved: list[tuple[str, int]] = []

    def save_checkpoint(self, checkpoint, path, storage_options=None) -> None:
        self.saved.append((Path(path).name, checkpoint["global_step"] // BATCHES))
        super().save_checkpoint(checkpoint, path, storage_options)


class LoggingModel(BoringModel):
    def validation_step(self, batch, batch_idx):
        outputs = super().validation_step(batch, batch_idx)
        self.log("valid_loss", outputs["x"])
        return outputs


class FakeClock(Callback):
    """A clock that moves SECONDS_PER_EPOCH at the start of every epoch."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def on_train_epoch_start(self, trainer, pl_module) -> None:
        self.now += SECONDS_PER_EPOCH


def last_writes(tmp_path, last_every_s: float, epochs: int, **checkpoint) -> list[int]:
    """After how many epochs last.ckpt was written, in order."""
    clock, io = FakeClock(), RecordingIO()
    callback = BestAndLastCheckpoint(
        dirpath=tmp_path / "checkpoints",
        save_last=True,
        last_every_s=last_every_s,
        clock=clock,
        **checkpoint,
    )
    trainer = L.Trainer(
        max_epochs=epochs,
        limit_train_batches=BATCHES,
        limit_val_batches=1,
        callbacks=[clock, callback],
        plugins=[io],
        logger=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        default_root_dir=tmp_path,
    )
    trainer.fit(LoggingModel())
    assert (tmp_path / "checkpoints" / "last.ckpt").is_file()
    return [epoch for name, epoch in io.saved if name == "last.ckpt"]


def test_last_is_written_on_the_cadence_and_at_the_end_of_fit(tmp_path):
    # epochs end at 4, 8, 12, ... s; 10 s between writes: after 3 epochs (12 s) and 6 (24 s),
    # and after 7 (28 s) because fit ends there
    assert last_writes(tmp_path, last_every_s=10, epochs=7) == [3, 6, 7]


def test_the_end_of_fit_does_not_write_last_twice(tmp_path):
    assert last_writes(tmp_path, last_every_s=10, epochs=6) == [3, 6]


def test_zero_writes_last_after_every_epoch_also_without_a_new_best(tmp_path):
    # only the first epoch is a best: mode=max on a loss that falls
    writes = last_writes(tmp_path, last_every_s=0, epochs=4, monitor="valid_loss", mode="max")
    assert writes == [1, 2, 3, 4]


def test_a_long_cadence_still_writes_last_when_fit_ends(tmp_path):
    assert last_writes(tmp_path, last_every_s=3600, epochs=3) == [3]


def test_a_negative_cadence_is_refused_by_the_config_check(tmp_path):
    """Before anything trains (with data.protocol=cv_epochs it once failed after every fold)."""
    for protocol in ("val_split", "cv_epochs"):
        with pytest.raises(SeqlabError, match=r"callbacks.checkpoint.last_every_s=-1.0 must be 0"):
            compose_train([f"data.protocol={protocol}", "callbacks.checkpoint.last_every_s=-1"])


class StopSignal(Callback):
    """Lightning's reaction to SIGTERM (SIGTERMException) in the middle of epoch `at`."""

    def __init__(self, at: int) -> None:
        self.at = at

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        if trainer.current_epoch == self.at and batch_idx == 0:
            from lightning.pytorch.utilities.exceptions import SIGTERMException

            raise SIGTERMException


def test_a_stop_signal_writes_the_newest_epoch_end_the_cadence_skipped(tmp_path):
    import torch
    from lightning.pytorch.utilities.exceptions import SIGTERMException

    clock, io = FakeClock(), RecordingIO()
    callback = BestAndLastCheckpoint(
        dirpath=tmp_path / "checkpoints", save_last=True, last_every_s=3600, clock=clock
    )
    trainer = L.Trainer(
        max_epochs=5,
        limit_train_batches=BATCHES,
        limit_val_batches=1,
        callbacks=[clock, callback, StopSignal(at=3)],
        plugins=[io],
        logger=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        default_root_dir=tmp_path,
    )
    model = LoggingModel()
    with pytest.raises(SIGTERMException):
        trainer.fit(model)
    # the cadence wrote nothing in 3 epochs; the stop wrote the end of epoch 3, not the weights
    # of the epoch in progress
    assert [epoch for name, epoch in io.saved if name == "last.ckpt"] == [3]
    saved = torch.load(tmp_path / "checkpoints" / "last.ckpt", weights_only=False)
    assert saved["global_step"] == 3 * BATCHES
    live = model.state_dict()
    assert any(not torch.equal(saved["state_dict"][k], live[k]) for k in live)
