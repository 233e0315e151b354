"""A warning on the console means something: exploding steps reported once per epoch with the
norm clipping left, a diverging loss reported although it stays finite, hints that fit the
settings, and nothing from third parties that seqlab causes and cannot act on."""

import logging
from types import SimpleNamespace

import pytest
import torch

from seqlab.training.callbacks.finite import NonFiniteError, NonFiniteGuard
from test_gradients import classifier, diagnostics, recurrent

from conftest import run_cli, wandb_env

GRADIENTS_LOG = "seqlab.training.callbacks.gradients"
FINITE_LOG = "seqlab.training.callbacks.finite"


def gradient_steps(tmp_path, scales_per_epoch: list[list[float]], clip: float | None):
    """Run the diagnostics through the hooks Lightning calls, clipping like Lightning does."""
    model = classifier(recurrent())
    callback = diagnostics(tmp_path, jump_factor=5.0, every_n_steps=5)
    callback.setup(None, model, "fit")
    base = {name: torch.randn_like(p) for name, p in model.named_parameters()}
    step = 0
    for epoch, scales in enumerate(scales_per_epoch):
        for scale in scales:
            for name, parameter in model.named_parameters():
                parameter.grad = base[name] * scale
            trainer = SimpleNamespace(
                global_step=step, current_epoch=epoch, loggers=[], gradient_clip_val=clip
            )
            batch = SimpleNamespace(lengths=None)
            callback.on_train_batch_start(trainer, model, batch, step)
            callback.on_before_optimizer_step(trainer, model, None)
            if clip:
                torch.nn.utils.clip_grad_norm_(model.parameters(), clip)
            trainer.global_step = step + 1  # Lightning counts the step before batch end
            callback.on_train_batch_end(trainer, model, None, batch, step)
            step += 1


def test_exploding_steps_are_reported_once_per_epoch_with_the_clipped_norm(tmp_path, caplog):
    calm = [1.0, 1.1, 0.9, 1.0, 1.2, 1.0]
    epochs = [calm + [40.0, 1.0, 60.0, 80.0], [1.0, 50.0, 1.0], [40.0, 1.0]]
    with caplog.at_level(logging.WARNING, logger=GRADIENTS_LOG):
        gradient_steps(tmp_path, epochs, clip=1.0)
    messages = [r.getMessage() for r in caplog.records]
    # one per epoch, not one per jump; epoch 2's jump (step 13) is within every_n_steps=5 steps
    # of epoch 1's (step 11), as happens when an epoch is only a few steps long
    assert len(messages) == 2, messages
    assert "epoch 0, step 6" in messages[0] and "epoch 1, step 11" in messages[1]
    assert "clipped to norm 1 (trainer.gradient_clip_val=1.0)" in messages[0]
    assert "consider trainer.gradient_clip_val" not in caplog.text


def test_without_clipping_the_report_suggests_it(tmp_path, caplog):
    with caplog.at_level(logging.WARNING, logger=GRADIENTS_LOG):
        gradient_steps(tmp_path, [[1.0, 1.1, 0.9, 1.0, 1.2, 40.0]], clip=None)
    assert len(caplog.records) == 1
    assert "not clipped" in caplog.text and "trainer.gradient_clip_val=1.0" in caplog.text


class FakeModule:
    """What the guard reads of a LightningModule: parameters with gradients, the learning rate."""

    def __init__(self, lr: float = 1000.0):
        self.weight = torch.nn.Parameter(torch.ones(3))
        self.weight.grad = torch.ones(3)
        self.hparams = {"optim": {"lr": lr}}

    def parameters(self):
        return [self.weight]


def guard_steps(losses: list[float], clip: float | None = 1.0) -> NonFiniteGuard:
    guard, module = NonFiniteGuard(), FakeModule()
    guard.on_train_start(None, module)
    for step, loss in enumerate(losses):
        trainer = SimpleNamespace(
            global_step=step,
            current_epoch=step // 4,
            gradient_clip_val=clip,
            precision_plugin=SimpleNamespace(scaler=None),
        )
        guard.on_before_backward(trainer, module, torch.tensor(loss))
        guard.on_before_optimizer_step(trainer, module, None)
    return guard


def test_a_loss_that_grows_by_orders_of_magnitude_is_reported_once(caplog):
    with caplog.at_level(logging.WARNING, logger=FINITE_LOG):
        guard_steps([0.69, 0.8, 3.0, 40.0, 900.0, 5e6, 5e16, 4e16])
    assert len(caplog.records) == 1
    message = caplog.records[0].getMessage()
    assert "step 4" in message and "0.69" in message and "diverg" in message
    assert "optim.lr=1000" in message


def test_a_loss_that_wobbles_is_no_divergence(caplog):
    with caplog.at_level(logging.WARNING, logger=FINITE_LOG):
        guard_steps([0.69, 2.5, 0.4, 6.0, 0.1, 0.05])
    assert not caplog.records


def test_the_non_finite_hint_does_not_suggest_the_clipping_already_set():
    with pytest.raises(NonFiniteError) as clipped:
        guard_steps([0.7, float("nan")], clip=1.0)
    assert "trainer.gradient_clip_val=1.0" not in str(clipped.value).split("already")[0]
    assert "already clipped" in str(clipped.value) and "lower optim.lr" in str(clipped.value)
    with pytest.raises(NonFiniteError) as unclipped:
        guard_steps([0.7, float("nan")], clip=None)
    assert "trainer.gradient_clip_val=1.0" in str(unclipped.value)


@pytest.mark.slow
def test_a_run_prints_no_third_party_noise_and_reports_a_diverging_loss(tmp_path):
    result = run_cli(
        "seqlab.cli.train",
        "model.hidden_size=8",
        "optim.lr=1000",
        "trainer.max_epochs=2",
        "print_config=false",
        "print_parameters=false",
        "callbacks.progress_bar=false",
        f"hydra.run.dir={tmp_path}/run",
        env={**wandb_env(tmp_path / "wandb"), "WANDB_SILENT": "false"},
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "wandb sync" in result.stderr  # W&B did print: its messages were not all hidden
    assert "LeafSpec" not in result.stderr
    assert "anonymous setting" not in result.stderr
    assert "diverg" in (tmp_path / "run" / "train.log").read_text()
