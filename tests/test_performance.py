"""The pieces changed for speed keep their behaviour: background checkpoint writes stay in
order and complete, RNG states in checkpoints round-trip (old list form included), the shared
gradient norm is the norm, and the benchmark workloads compose."""

import io
import random
import sys
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from lightning.fabric.plugins import TorchCheckpointIO
from lightning.fabric.utilities.apply_func import move_data_to_device
from lightning.pytorch.strategies import SingleDeviceStrategy
from torchmetrics import MeanMetric, MetricCollection
from torchmetrics.classification import AUROC, Accuracy, F1Score, Precision, Recall

from seqlab.data.batch import Batch
from seqlab.data.meta import DataMeta
from seqlab.models.classifier import SequenceClassifier
from seqlab.training.callbacks.finite import NonFiniteError, NonFiniteGuard
from seqlab.training.callbacks.rng import RngStateCheckpoint
from seqlab.training.checkpoint_io import OrderedAsyncCheckpointIO
from seqlab.training.gradient_norms import global_norm

from conftest import REPO_ROOT, compose_train


def test_background_writes_and_removals_keep_their_order(tmp_path):
    io_plugin = OrderedAsyncCheckpointIO(TorchCheckpointIO())  # a Trainer sets this one itself
    path = tmp_path / "epoch000.ckpt"
    weights = torch.arange(4.0)
    io_plugin.save_checkpoint({"w": weights}, path)
    weights += 10  # the training thread moves on: the file holds the values at save time
    io_plugin.remove_checkpoint(path)  # queued behind the write, so it removes the written file
    io_plugin.save_checkpoint({"w": weights}, tmp_path / "last.ckpt")
    io_plugin.teardown()  # what the Trainer calls when fit ends: waits for every write
    assert not path.exists()
    assert torch.equal(torch.load(tmp_path / "last.ckpt")["w"], torch.arange(4.0) + 10)


def test_rng_states_round_trip_through_a_weights_only_checkpoint():
    callback = RngStateCheckpoint()
    random.seed(3), np.random.seed(4), torch.manual_seed(5)
    np.random.normal()  # leaves a cached Gaussian in numpy's state
    buffer = io.BytesIO()
    torch.save(callback.state_dict(), buffer)
    expected = (random.random(), np.random.normal(), torch.rand(1).item())
    random.seed(0), np.random.seed(0), torch.manual_seed(0)
    buffer.seek(0)
    callback.load_state_dict(torch.load(buffer, weights_only=True))
    assert (random.random(), np.random.normal(), torch.rand(1).item()) == expected


def test_rng_states_saved_as_lists_still_load():
    random.seed(7), np.random.seed(8)
    kind, keys, position, has_gauss, cached = np.random.get_state()
    version, internal, gauss_next = random.getstate()
    old = {
        "torch": torch.get_rng_state(),
        "numpy": [kind, keys.tolist(), position, has_gauss, cached],
        "python": [version, list(internal), gauss_next],
    }
    expected = (random.random(), np.random.rand())
    RngStateCheckpoint().load_state_dict(old)
    assert (random.random(), np.random.rand()) == expected


def test_benchmark_workloads_compose(tmp_path):
    sys.path.insert(0, str(REPO_ROOT / "benchmarks"))
    from workloads import WORKLOADS

    for workload in WORKLOADS:
        extra = workload.prepare(tmp_path) if workload.prepare else []
        config = compose_train([*workload.overrides, *extra], tmp_path / workload.name)
        assert config.model.kind == "recurrent"


def test_the_guard_shares_the_raw_gradient_norm_of_its_step_only():
    module = tiny_classifier()
    module.training_step(random_batch(6, torch.Generator().manual_seed(3)), 0).backward()
    guard = NonFiniteGuard()
    trainer = SimpleNamespace(callbacks=[guard], global_step=7, current_epoch=0)
    module.trainer = trainer
    assert module.measured_grad_norm() is None  # nothing measured yet: clipping measures itself
    guard.on_train_start(trainer, module)
    guard.on_before_optimizer_step(trainer, module, None)
    assert module.measured_grad_norm() == pytest.approx(global_norm(module), rel=1e-6)
    trainer.global_step = 8  # the next step's gradients are not the measured ones
    assert module.measured_grad_norm() is None


def test_the_guard_leaves_overflowing_fp16_steps_to_the_gradient_scaler():
    module = tiny_classifier()
    module.training_step(random_batch(6, torch.Generator().manual_seed(3)), 0).backward()
    module.head[1].weight.grad[0, 0] = float("inf")  # a scaled fp16 gradient that overflowed
    guard = NonFiniteGuard()
    scaled = SimpleNamespace(scaler=object())
    trainer = SimpleNamespace(callbacks=[guard], global_step=3, current_epoch=0)
    trainer.precision_plugin = scaled
    module.trainer = trainer
    guard.on_train_start(trainer, module)
    guard.on_before_optimizer_step(trainer, module, None)  # no error: the scaler skips the step
    assert module.measured_grad_norm() is None  # so clipping measures for itself
    trainer.precision_plugin = SimpleNamespace(scaler=None)  # full precision: a real failure
    with pytest.raises(NonFiniteError, match="non-finite gradient norm"):
        guard.on_before_optimizer_step(trainer, module, None)


def tiny_classifier() -> SequenceClassifier:
    meta = DataMeta(num_features=2, num_classes=3, class_names=("a", "b", "c"), max_length=5)
    model_cfg = {"kind": "recurrent", "cell": "gru", "hidden_size": 4, "num_layers": 1}
    model_cfg |= {"bidirectional": False, "dropout": 0.0, "pooling": "mean"}
    model_cfg |= {"embedding_dim": 2, "embedding_dropout": 0.0, "freeze_embeddings": False}
    return SequenceClassifier(model_cfg, meta.to_dict(), {}, {"average": "macro"})


def random_batch(size: int, generator: torch.Generator) -> Batch:
    return Batch(
        torch.randn(size, 5, 2, generator=generator),
        torch.zeros(size, 5, 0, dtype=torch.long),
        torch.randint(1, 6, (size,), generator=generator),
        torch.randint(0, 3, (size,), generator=generator),
    )


def test_clipping_with_the_guards_norm_clips_as_lightning_does():
    module = tiny_classifier()
    generator = torch.Generator().manual_seed(1)
    (module.training_step(random_batch(6, generator), 0) * 100).backward()
    grads = {name: p.grad.clone() for name, p in module.named_parameters()}
    raw = float(torch.cat([g.flatten() for g in grads.values()]).norm())
    assert raw > 0.5  # so clipping changes the gradients
    # torch's documented clipping: scale every gradient by max_norm / (norm + 1e-6)
    expected = {name: g * (0.5 / (raw + 1e-6)) for name, g in grads.items()}
    guard = NonFiniteGuard()
    strategy = SingleDeviceStrategy(torch.device("cpu"))
    module.trainer = SimpleNamespace(
        callbacks=[guard], global_step=0, current_epoch=0, strategy=strategy
    )
    guard.on_train_start(module.trainer, module)
    guard.on_before_optimizer_step(module.trainer, module, None)
    assert module.measured_grad_norm() == pytest.approx(raw, rel=1e-6)
    optimizer = torch.optim.SGD(module.parameters(), lr=0.1)
    module.configure_gradient_clipping(optimizer, 0.5, "norm")
    for name, parameter in module.named_parameters():
        assert torch.allclose(parameter.grad, expected[name], rtol=1e-6, atol=0), name


def test_a_batch_moves_to_a_device_in_one_call(monkeypatch):
    batch = random_batch(3, torch.Generator().manual_seed(2))
    calls = []
    original = Batch.to
    monkeypatch.setattr(
        Batch, "to", lambda self, *a, **k: calls.append(1) or original(self, *a, **k)
    )
    moved = move_data_to_device(batch, torch.device("cpu"))
    assert calls == [1]  # Lightning hands the whole Batch to Batch.to, never copies its fields
    assert isinstance(moved, Batch)
    for name in ("inputs", "categories", "lengths", "labels"):
        assert torch.equal(getattr(moved, name), getattr(batch, name))


def test_the_loss_kept_per_epoch_and_the_metrics_equal_torchmetrics_per_batch(tmp_path):
    import lightning as L

    module = tiny_classifier()
    options = {"task": "multiclass", "num_classes": 3, "average": "macro"}
    reference = MetricCollection(
        {
            "acc": Accuracy(**{**options, "average": "micro"}),
            "precision": Precision(**options),
            "recall": Recall(**options),
            "f1": F1Score(**options),
            "auroc": AUROC(**options),
        },
        prefix="val/",
    )
    mean_loss = MeanMetric()
    generator = torch.Generator().manual_seed(0)
    batches = [random_batch(size, generator) for size in (4, 7, 1)]  # an uneven last batch
    module.eval()
    with torch.no_grad():
        for batch in batches:
            logits = module(batch)
            reference.update(logits.softmax(dim=-1), batch.labels)
            mean_loss.update(module.loss_fn(logits, batch.labels), weight=len(batch))
    trainer = L.Trainer(
        accelerator="cpu", logger=False, enable_progress_bar=False, default_root_dir=tmp_path
    )
    loader = torch.utils.data.DataLoader(batches, batch_size=None, collate_fn=lambda b: b)
    (computed,) = trainer.validate(module, dataloaders=loader, verbose=False)
    for name, value in reference.compute().items():
        assert computed[name] == pytest.approx(float(value), abs=1e-6), name
    assert computed["val/loss"] == pytest.approx(float(mean_loss.compute()), abs=1e-6)
