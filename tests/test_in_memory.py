"""The in-memory fast path (batches cut from tensors on the training device, no DataLoader) gives
the DataLoader's batches and the same training, loss by loss."""

import lightning as L
import pytest
import torch
from lightning.pytorch.callbacks import Callback

from seqlab.config import TrainConfig
from seqlab.data.in_memory import DeviceBatches
from seqlab.data.registry import build_datamodule
from seqlab.models.classifier import SequenceClassifier
from seqlab.training.pipeline import train

from conftest import compose_train, corpus, quick_overrides, write_lines

pytestmark = pytest.mark.slow
EPOCHS = 3


class Recorder(Callback):
    """Every training loss, batch (labels and lengths) and validation loss, in order."""

    def __init__(self) -> None:
        self.train: list[float] = []
        self.batches: list[tuple[list[int], list[int]]] = []
        self.val: list[float] = []

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        self.train.append(float(outputs["loss"]))
        self.batches.append((batch.labels.tolist(), batch.lengths.tolist()))

    def on_validation_end(self, trainer, pl_module) -> None:
        self.val.append(float(trainer.callback_metrics["val/loss"]))


def fit(config: TrainConfig, in_memory: bool) -> tuple[Recorder, type]:
    L.seed_everything(config.seed, workers=True, verbose=False)
    data = build_datamodule(config.data)
    data.setup("fit")
    data.in_memory = in_memory
    module = SequenceClassifier.from_config(config, data.meta, fitted=None)
    recorder = Recorder()
    trainer = L.Trainer(
        accelerator="cpu",
        devices=1,
        max_epochs=EPOCHS,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        callbacks=[recorder],
    )
    trainer.fit(module, datamodule=data)
    return recorder, type(data.train_dataloader())


def text_overrides(folder) -> list[str]:
    write_lines(folder / "train.txt", corpus(120))
    write_lines(folder / "test.txt", corpus(40, seed=1))
    return [
        "data=text",
        f"data.root={folder}",
        "data.train_file=train.txt",
        "data.test_file=test.txt",
        "data.cache_dir=null",
        "data.batch_size=16",
        "data.bucket_batches=2",  # several pools: the bucketed order is shuffled
        "model=bilstm",
        "model.embedding_dim=8",
        "model.hidden_size=8",
    ]


WORKLOADS = {
    # shuffled, equal lengths
    "ucr": lambda folder: ["model=lstm", "model.hidden_size=16", "data.batch_size=8"],
    # generated data, a GRU with mean pooling
    "memory": lambda folder: [
        "data=memory",
        "data.length=12",
        "data.num_train=96",
        "data.num_val=40",
        "data.num_test=40",
        "data.batch_size=16",
        "model=gru",
        "model.hidden_size=8",
        "model.pooling=mean",
    ],
    # length-bucketed batches of variable length, packed
    "text": text_overrides,
}


@pytest.mark.parametrize("workload", sorted(WORKLOADS))
def test_the_fast_path_gives_the_same_batches_and_losses(workload, tmp_path):
    overrides = [*WORKLOADS[workload](tmp_path), "model.dropout=0.3", "data.in_memory=true"]
    if workload != "text":
        overrides.remove("data.in_memory=true")  # always on for data read into memory
    config = compose_train(overrides, tmp_path / "run")
    fast, fast_type = fit(config, in_memory=True)
    loader, loader_type = fit(config, in_memory=False)
    assert fast_type is DeviceBatches and loader_type is torch.utils.data.DataLoader
    assert len(fast.train) > EPOCHS  # several batches an epoch
    assert fast.batches == loader.batches
    assert fast.train == pytest.approx(loader.train, abs=1e-6)
    assert fast.val == pytest.approx(loader.val, abs=1e-6)


def test_lightning_overfit_batches_still_works(tmp_path):
    """It swaps the loaders' samplers, which only a DataLoader allows: the data module hands
    over one then."""
    overrides = quick_overrides("model=rnn", "+trainer.overfit_batches=1", "trainer.max_epochs=2")
    assert 0.0 <= train(compose_train(overrides, tmp_path))["test/acc"] <= 1.0
