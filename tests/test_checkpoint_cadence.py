"""last.ckpt follows callbacks.checkpoint.last_every_s: written at the first epoch end that long
after the previous write, always at the end of fit, and after every epoch with 0. The best
checkpoint (weights only) is kept in memory when the monitor improves and written just before
last.ckpt; the best file it replaces is removed after both."""

import json
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
    """Every checkpoint the Trainer writes, as (file name, epochs trained), and every file
    operation in order, as ("save" | "remove", file name)."""

    def __init__(self) -> None:
        super().__init__()
        self.saved: list[tuple[str, int]] = []
        self.operations: list[tuple[str, str]] = []

    def save_checkpoint(self, checkpoint, path, storage_options=None) -> None:
        self.saved.append((Path(path).name, checkpoint["global_step"] // BATCHES))
        self.operations.append(("save", Path(path).name))
        super().save_checkpoint(checkpoint, path, storage_options)

    def remove_checkpoint(self, path) -> None:
        if Path(path).exists():  # what is removed from the disk
            self.operations.append(("remove", Path(path).name))
        super().remove_checkpoint(path)


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
    # of the epoch in progress, and the best epoch (with no monitor: the newest) just before it
    assert [epoch for name, epoch in io.saved if name == "last.ckpt"] == [3]
    assert [operation for operation, _ in io.operations] == ["save", "save"]
    assert io.saved[0][1] == 3 and io.saved[1][0] == "last.ckpt"
    saved = torch.load(tmp_path / "checkpoints" / "last.ckpt", weights_only=False)
    assert saved["global_step"] == 3 * BATCHES
    live = model.state_dict()
    assert any(not torch.equal(saved["state_dict"][k], live[k]) for k in live)


class ScriptedScore(LoggingModel):
    """Logs `score` = scores[epoch] at every validation, and keeps a copy of the weights of
    each epoch's end."""

    def __init__(self, scores: list[float]) -> None:
        super().__init__()
        self.scores = scores
        self.weights: list[dict] = []

    def validation_step(self, batch, batch_idx):
        self.log("score", float(self.scores[self.current_epoch]))
        return super().validation_step(batch, batch_idx)

    def on_validation_epoch_end(self) -> None:
        if not self.trainer.sanity_checking:
            self.weights.append({k: v.detach().clone() for k, v in self.state_dict().items()})


def scripted_fit(tmp_path, scores, last_every_s, stop_at=None):
    """A fit of len(scores) epochs keeping the highest `score`; its IO record and model."""
    clock, io, model = FakeClock(), RecordingIO(), ScriptedScore(scores)
    callback = BestAndLastCheckpoint(
        dirpath=tmp_path / "checkpoints",
        monitor="score",
        mode="max",
        save_last=True,
        last_every_s=last_every_s,
        clock=clock,
        filename="epoch{epoch:03d}",
        auto_insert_metric_name=False,
    )
    stops = [] if stop_at is None else [StopSignal(at=stop_at)]
    trainer = L.Trainer(
        max_epochs=len(scores),
        limit_train_batches=BATCHES,
        limit_val_batches=1,
        num_sanity_val_steps=0,
        callbacks=[clock, callback, *stops],
        plugins=[io],
        logger=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        default_root_dir=tmp_path,
    )
    trainer.fit(model)
    return io, model, trainer


def test_a_new_best_is_written_with_last_before_it_and_the_one_it_replaces_after(tmp_path):
    import torch

    # epochs end at 4, 8, 12, ... s; with 10 s between writes, the cadence writes after the
    # third and sixth epochs (indices 2 and 5) and fit ends after the seventh. The score
    # improves at epochs 0, 1, 3 and 4: epoch 0 and 3 are replaced before any write.
    io, model, trainer = scripted_fit(tmp_path, [1, 2, 2, 3, 4, 4, 4], last_every_s=10)
    assert io.operations == [
        ("save", "epoch001.ckpt"),
        ("save", "last.ckpt"),
        ("save", "epoch004.ckpt"),
        ("save", "last.ckpt"),
        ("remove", "epoch001.ckpt"),
        ("save", "last.ckpt"),
    ]
    assert sorted(p.name for p in (tmp_path / "checkpoints").iterdir()) == [
        "epoch004.ckpt",
        "last.ckpt",
    ]
    best = torch.load(tmp_path / "checkpoints" / "epoch004.ckpt", weights_only=True)
    assert not {"optimizer_states", "lr_schedulers", "loops", "callbacks"} & set(best)
    assert best["epoch"] == 4 and best["global_step"] == 5 * BATCHES
    # the weights of the improving epoch's end, not those of the epoch the cadence wrote it in
    assert best["state_dict"].keys() == model.weights[4].keys()
    assert all(torch.equal(best["state_dict"][k], v) for k, v in model.weights[4].items())
    assert any(not torch.equal(best["state_dict"][k], v) for k, v in model.weights[5].items())
    # last.ckpt carries the best score and the best file's path, for a resume
    last = torch.load(tmp_path / "checkpoints" / "last.ckpt", weights_only=True)
    (state,) = [v for k, v in last["callbacks"].items() if k.startswith("BestAndLastCheckpoint")]
    assert Path(state["best_model_path"]).name == "epoch004.ckpt"
    assert float(state["best_model_score"]) == 4.0
    assert {"optimizer_states", "loops"} <= set(last)
    # testing the weights-only file works, on its weights
    (tested,) = trainer.test(model, ckpt_path=str(tmp_path / "checkpoints" / "epoch004.ckpt"))
    assert all(torch.equal(model.state_dict()[k], v) for k, v in model.weights[4].items())


def test_a_stop_signal_writes_the_best_kept_in_memory_before_last(tmp_path):
    from lightning.pytorch.utilities.exceptions import SIGTERMException

    # a cadence that never fires: the improvements of epochs 0 and 2 are only in memory when the
    # stop lands in epoch 3; the stop writes epoch 2's best, then last.ckpt of epoch 2's end
    with pytest.raises(SIGTERMException):
        scripted_fit(tmp_path, [1, 1, 2, 2, 2], last_every_s=3600, stop_at=3)
    names = sorted(p.name for p in (tmp_path / "checkpoints").iterdir())
    assert names == ["epoch002.ckpt", "last.ckpt"]


DDP_SCRIPT = """
import json, os, sys
import lightning as L
from pathlib import Path
sys.path.insert(0, {tests!r})
from test_checkpoint_cadence import FakeClock, LoggingModel, RecordingIO
from seqlab.training.callbacks.checkpoint import BestAndLastCheckpoint

class StoppedClock(FakeClock):
    def on_train_epoch_start(self, trainer, pl_module):
        pass

# rank 0's clock moves 4 s an epoch; rank 1's never moves: only rank 0's says a write is due
clock = FakeClock() if os.environ.get("LOCAL_RANK", "0") == "0" else StoppedClock()
io = RecordingIO()
callback = BestAndLastCheckpoint(
    dirpath={out!r} + "/checkpoints", save_last=True, last_every_s=10, clock=clock
)
trainer = L.Trainer(
    accelerator="cpu", devices=2, strategy="ddp", max_epochs=7, limit_train_batches=2,
    limit_val_batches=1, callbacks=[clock, callback], plugins=[io], logger=False,
    enable_progress_bar=False, enable_model_summary=False, default_root_dir={out!r},
)
trainer.fit(LoggingModel())
if trainer.is_global_zero:
    last = [epoch for name, epoch in io.saved if name == "last.ckpt"]
    Path({out!r}, "writes.json").write_text(json.dumps(last))
"""


@pytest.mark.ddp
def test_ddp_ranks_follow_rank_zeros_clock(tmp_path):
    """Every rank takes part in a write of last.ckpt; ranks whose clocks disagree on whether it
    is due must still write together (else one waits in the write's barrier while the other
    trains on: a hang)."""
    import subprocess
    import sys

    from conftest import subprocess_env

    script = tmp_path / "ddp_cadence.py"
    tests = str(Path(__file__).parent)
    script.write_text(DDP_SCRIPT.format(tests=tests, out=str(tmp_path)))
    result = subprocess.run(
        [sys.executable, str(script)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
        env=subprocess_env({"OMP_NUM_THREADS": "1"}),
    )
    assert result.returncode == 0, result.stderr[-3000:]
    # rank 0's cadence: after 3 and 6 epochs, and when fit ends after 7
    assert json.loads((tmp_path / "writes.json").read_text()) == [3, 6, 7]
