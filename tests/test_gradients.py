"""Gradient diagnostics: group norms, ||dL/dh_t|| against an independent reference, padding,
the exploding-step warning, the MLP skip, and one short training that writes everything."""

import csv
import json
import logging
from types import SimpleNamespace

import pytest
import torch
import torch.nn.functional as F

from seqlab.data.meta import DataMeta
from seqlab.models.classifier import SequenceClassifier
from seqlab.models.recurrent import RecurrentEncoder
from seqlab.training.callbacks.gradients import GradientDiagnostics, hidden_gradient_curves
from seqlab.training.gradient_norms import group_norms
from seqlab.training.pipeline import train

from conftest import OPTIM, compose_train, quick_overrides

META = DataMeta(
    num_features=2,
    num_classes=3,
    class_names=("a", "b", "c"),
    max_length=6,
    category_sizes=(7,),
    category_names=("symbol",),
)
INPUTS = {"embedding_dim": 3, "embedding_dropout": 0.0, "freeze_embeddings": False}


def recurrent(cell="lstm", layers=1, bidirectional=False, pooling="last") -> dict:
    return {
        "kind": "recurrent",
        "cell": cell,
        "hidden_size": 4,
        "num_layers": layers,
        "bidirectional": bidirectional,
        "dropout": 0.0,
        "pooling": pooling,
        **INPUTS,
    }


def classifier(model_cfg: dict) -> SequenceClassifier:
    torch.manual_seed(0)
    return SequenceClassifier(model_cfg, META.to_dict(), OPTIM, {"average": "macro"})


def diagnostics(tmp_path, **options) -> GradientDiagnostics:
    settings = dict(every_n_steps=1, hidden_states=True, jump_factor=10.0, median_window=20)
    return GradientDiagnostics(run_dir=tmp_path, plots=False, **{**settings, **options})


def test_group_norms_match_torch_on_a_tiny_model():
    model = classifier(recurrent(layers=2, bidirectional=True))
    inputs, categories = torch.randn(3, 5, 2), torch.randint(1, 7, (3, 5, 1))
    logits = model.head(model.encoder(model.inputs(inputs, categories), torch.tensor([5, 5, 5])))
    F.cross_entropy(logits, torch.tensor([0, 1, 2])).backward()
    norms = group_norms(model)

    params = dict(model.named_parameters())
    for layer in ("l0", "l1", "l0_reverse", "l1_reverse"):
        for kind in ("ih", "hh"):
            grads = [params[f"encoder.rnn.{p}_{kind}_{layer}"].grad for p in ("weight", "bias")]
            expected = torch.linalg.vector_norm(torch.cat([g.flatten() for g in grads]))
            assert norms[f"{kind}_{layer}"] == pytest.approx(float(expected), rel=1e-5)
    assert norms["embeddings"] == pytest.approx(
        float(model.inputs.embeddings[0].weight.grad.norm())
    )
    head = torch.cat([p.grad.flatten() for p in model.head.parameters()])
    assert norms["head"] == pytest.approx(float(head.norm()), rel=1e-5)
    total = torch.nn.utils.get_total_norm([p.grad for p in model.parameters()])
    assert norms["global"] == pytest.approx(float(total), rel=1e-5)
    assert len(norms) == 8 + 3  # 8 recurrent groups, embeddings, head, global


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_a_logged_step_trains_exactly_as_the_fused_kernel(cell):
    """The step-by-step forward of a logged step gives the fused kernel's outputs and parameter
    gradients (two layers, both directions, padding): training is unchanged."""
    encoder = classifier(recurrent(cell, layers=2, bidirectional=True, pooling="mean")).encoder
    x, lengths = torch.randn(3, 7, encoder.rnn.input_size), torch.tensor([7, 2, 5])
    results = []
    for record in (False, True):
        if record:
            encoder.request_hidden_states()
        outputs = encoder(x, lengths)
        results.append((outputs, torch.autograd.grad(outputs.square().sum(), encoder.parameters())))
    (fused, fused_grads), (unrolled, unrolled_grads) = results
    assert torch.allclose(fused, unrolled, atol=1e-6)
    for a, b in zip(fused_grads, unrolled_grads, strict=True):
        assert torch.allclose(a, b, atol=1e-5)
    assert set(encoder.take_hidden_states()) == {"l0", "l0_reverse", "l1", "l1_reverse"}
    assert encoder.take_hidden_states() == {}  # handed over once
    encoder(x, lengths).sum().backward()
    assert encoder.take_hidden_states() == {}  # opt-in for one forward only


def reference_hidden_grads(
    encoder: RecurrentEncoder, head: torch.nn.Module, x: torch.Tensor, labels: torch.Tensor
) -> torch.Tensor:
    """(batch, time) ||dL/dh_t|| from the fused kernel alone: for each t, run the prefix to get
    the state at t, make h_t a leaf, run the suffix from it, and differentiate the loss."""
    rnn, steps = encoder.rnn, x.shape[1]
    is_lstm = isinstance(rnn, torch.nn.LSTM)
    with torch.no_grad():
        prefix_outputs, _ = rnn(x)
    norms = []
    for t in range(steps):
        _, state = rnn(x[:, : t + 1])
        h = (state[0] if is_lstm else state).detach().clone().requires_grad_(True)
        outputs = [prefix_outputs[:, :t], h.transpose(0, 1)]
        final = h[-1]
        if t + 1 < steps:
            initial = (h, state[1].detach()) if is_lstm else h
            suffix, last = rnn(x[:, t + 1 :], initial)
            outputs.append(suffix)
            final = (last[0] if is_lstm else last)[-1]
        pooled = final if encoder.pooling == "last" else torch.cat(outputs, dim=1).mean(dim=1)
        loss = F.cross_entropy(head(pooled), labels, reduction="sum")
        (grad,) = torch.autograd.grad(loss, h)
        norms.append(grad[-1].norm(dim=-1))
    return torch.stack(norms, dim=1)


@pytest.mark.parametrize(
    "cell,pooling", [("rnn", "last"), ("lstm", "last"), ("gru", "last"), ("lstm", "mean")]
)
def test_hidden_gradients_match_an_independent_reference(cell, pooling):
    model = classifier(recurrent(cell, pooling=pooling))
    x, labels = torch.randn(3, 6, model.encoder.rnn.input_size), torch.tensor([0, 2, 1])
    lengths = torch.full((3,), 6)
    model.encoder.request_hidden_states()
    loss = F.cross_entropy(model.head(model.encoder(x, lengths)), labels, reduction="sum")
    loss.backward()
    curves, ratios = hidden_gradient_curves(model.encoder.take_hidden_states(), lengths)

    expected = reference_hidden_grads(model.encoder, model.head, x, labels)
    assert torch.allclose(torch.tensor(curves["l0"]), expected.mean(dim=0), rtol=1e-4, atol=1e-7)
    first_over_last = expected[:, 0].mean() / expected[:, -1].mean()
    assert ratios["l0"] == pytest.approx(float(first_over_last), rel=1e-4)
    # with pooling=last only h_T touches the loss directly: the earlier gradients all come
    # through the recurrence, which outputs.grad of the fused kernel would miss
    assert all(value > 0 for value in curves["l0"])


@pytest.mark.parametrize("bidirectional", [False, True])
def test_padded_steps_are_excluded_and_match_each_sample_alone(bidirectional):
    model = classifier(recurrent("gru", bidirectional=bidirectional))
    lengths = torch.tensor([6, 3, 4])
    x = torch.randn(3, 6, 5) * (torch.arange(6)[None, :] < lengths[:, None])[..., None]
    labels = torch.tensor([0, 1, 2])

    def hidden_norms(inputs, sample_lengths, sample_labels):
        model.encoder.request_hidden_states()
        logits = model.head(model.encoder(inputs, sample_lengths))
        F.cross_entropy(logits, sample_labels, reduction="sum").backward()
        return hidden_gradient_curves(model.encoder.take_hidden_states(), sample_lengths)[0]

    batch_curves = hidden_norms(x, lengths, labels)
    for name in batch_curves:
        alone = [
            hidden_norms(x[i : i + 1, : lengths[i]], lengths[i : i + 1], labels[i : i + 1])[name]
            for i in range(3)
        ]
        for t in range(6):
            real = [curve[t] for i, curve in enumerate(alone) if t < lengths[i]]
            assert batch_curves[name][t] == pytest.approx(sum(real) / len(real), rel=1e-4)


def test_the_exploding_step_warning_fires_on_a_jump(tmp_path, caplog):
    model = classifier(recurrent())
    callback = diagnostics(tmp_path, jump_factor=5.0)
    callback.setup(None, model, "fit")
    base = {name: torch.randn_like(p) for name, p in model.named_parameters()}

    def step(index: int, scale: float) -> None:
        for name, parameter in model.named_parameters():
            parameter.grad = base[name] * scale
        trainer = SimpleNamespace(
            global_step=index, current_epoch=0, loggers=[], gradient_clip_val=None
        )
        callback.on_train_batch_start(trainer, model, SimpleNamespace(lengths=None), index)
        callback.on_before_optimizer_step(trainer, model, None)
        callback.on_train_batch_end(trainer, model, None, None, index)

    with caplog.at_level(logging.WARNING, logger="seqlab.training.callbacks.gradients"):
        for index, scale in enumerate([1.0, 1.1, 0.9, 1.0, 1.2, 3.0, 1.0]):
            step(index, scale)
        assert not caplog.records  # 3x the median is within the factor of 5
        step(7, 40.0)
    assert len(caplog.records) == 1
    assert "step 7" in caplog.text and "exploding" in caplog.text


def test_a_jump_below_min_norm_is_no_explosion(tmp_path):
    callback = diagnostics(tmp_path, jump_factor=5.0, min_norm=1.0)
    for step, norm in enumerate([0.03, 0.035, 0.03, 0.04, 0.03]):
        assert not callback.check_jump(step, norm)
    assert not callback.check_jump(5, 0.7)  # 20x the median, but a small norm
    assert callback.check_jump(6, 2.0)


def test_an_mlp_is_skipped_with_one_message(tmp_path, caplog):
    mlp = {
        "kind": "mlp",
        "hidden_sizes": [8],
        "activation": "relu",
        "dropout": 0.0,
        "input": "mean",
        **INPUTS,
    }
    model = classifier(mlp)
    callback = diagnostics(tmp_path)
    trainer = SimpleNamespace(global_step=0, loggers=[], is_global_zero=True)
    with caplog.at_level(logging.WARNING, logger="seqlab.training.callbacks.gradients"):
        callback.setup(trainer, model, "fit")
        for _ in range(3):
            callback.on_train_batch_start(trainer, model, None, 0)
            callback.on_before_optimizer_step(trainer, model, None)
            callback.on_train_batch_end(trainer, model, None, None, 0)
        callback.on_train_end(trainer, model)
    assert len(caplog.records) == 1
    assert "no recurrent layer" in caplog.text and "MLPEncoder" in caplog.text
    assert not (tmp_path / "gradients").exists()


@pytest.mark.slow
def test_a_short_training_logs_norms_curves_and_plots(tmp_path):
    clip = 1e-3  # far below any real norm, so the clipped norm must equal it
    overrides = quick_overrides(
        "data=memory",
        "data.task=first_symbol",
        "data.length=12",
        "data.num_train=64",
        "data.num_val=16",
        "data.num_test=16",
        "data.batch_size=16",
        "model=bigru",
        "trainer.max_epochs=2",
        f"trainer.gradient_clip_val={clip}",
        "callbacks.gradients.every_n_steps=3",
        "logger.wandb.enabled=true",
    )
    train(compose_train(overrides, output_dir=tmp_path))

    results = json.loads((tmp_path / "gradients" / "gradients.json").read_text())
    assert results["steps"] == [0, 3, 6]  # 4 batches x 2 epochs = 8 steps
    assert set(results["hidden"][-1]) == {"l0", "l0_reverse"}
    assert all(len(curve) == 12 for curve in results["hidden"][-1].values())
    for norms in results["norms"]:
        assert norms["global"] > 10 * clip
        assert norms["global_clipped"] == pytest.approx(clip, rel=1e-3)
    for name in ("hidden_grad_norms.png", "param_grad_norms.png"):
        assert (tmp_path / "gradients" / name).stat().st_size > 1000
    with open(tmp_path / "csv" / "metrics.csv") as file:
        rows = [r for r in csv.DictReader(file) if r["grad_norm/global"]]
    assert [int(r["step"]) for r in rows] == [0, 3, 6]
    assert {"grad_norm/hh_l0_reverse", "grad_norm/embeddings", "grad_norm/head"} <= set(rows[0])
    tables = list(tmp_path.glob("wandb/offline-run-*/files/media/table/grad_norm/dh_l0_*.json"))
    assert tables, "no ||dL/dh_t|| chart in the W&B run"


def decoder_batch(entities: int = 4, weeks: int = 9):
    """A teacher-forced batch of weekly counts, as task=generate trains on them."""
    from seqlab.data.batch import IGNORE_LABEL, Batch
    from seqlab.data.events.futures import week_inputs

    counts = torch.randint(0, 3, (entities, weeks), generator=torch.Generator().manual_seed(3))
    labels = counts.clone()
    labels[:, 0] = IGNORE_LABEL  # as the first purchase week is
    empty = torch.zeros(entities, weeks, 0, dtype=torch.long)
    return Batch(week_inputs(counts), empty, torch.full((entities,), weeks), labels)


def decoder(cell: str = "lstm"):
    from seqlab.data.events.futures import INPUT_NAMES, MAX_COUNT
    from seqlab.models.generator import SequenceGenerator

    torch.manual_seed(0)
    meta = DataMeta(len(INPUT_NAMES), MAX_COUNT + 1, tuple(map(str, range(MAX_COUNT + 1))), 9)
    return SequenceGenerator(
        recurrent(cell, pooling="max"),
        meta.to_dict(),
        OPTIM,
        {"average": "binary"},
        task={"name": "generate"},
    )


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_a_decoders_hidden_gradients_match_an_independent_reference(cell):
    """task=generate scores every week, so dL/dh_t gathers the loss of week t and, through the
    recurrence, of every later week; the reference differentiates each h_t as a leaf."""
    model, batch = decoder(cell), decoder_batch()
    model.encoder.request_hidden_states()
    model._step(batch, "train")[0].backward()
    curves, ratios = hidden_gradient_curves(model.encoder.take_hidden_states(), batch.lengths)

    rnn, x = model.encoder.rnn, model.inputs(batch.inputs, batch.categories).detach()
    is_lstm = isinstance(rnn, torch.nn.LSTM)
    real = batch.labels != -100
    with torch.no_grad():
        prefix, _ = rnn(x)
    expected = []
    for t in range(x.shape[1]):
        _, state = rnn(x[:, : t + 1])
        h = (state[0] if is_lstm else state).detach().clone().requires_grad_(True)
        outputs = [prefix[:, :t], h[-1][:, None]]
        if t + 1 < x.shape[1]:
            suffix, _ = rnn(x[:, t + 1 :], (h, state[1].detach()) if is_lstm else h)
            outputs.append(suffix)
        logits = model.head(model.encoder.norm(torch.cat(outputs, dim=1)))
        loss = F.cross_entropy(logits[real], batch.labels[real])
        expected.append(torch.autograd.grad(loss, h)[0][-1].norm(dim=-1))
    reference = torch.stack(expected, dim=1)
    assert torch.allclose(torch.tensor(curves["l0"]), reference.mean(dim=0), rtol=1e-4, atol=1e-8)
    assert ratios["l0"] == pytest.approx(float(reference[:, 0].mean() / reference[:, -1].mean()))
    assert all(value > 0 for value in curves["l0"])


def test_the_exploding_step_warning_fires_on_a_decoder(tmp_path, caplog):
    """Real backward passes through a task=generate decoder; one step's loss is scaled up."""
    model = decoder()
    callback = diagnostics(tmp_path, jump_factor=5.0)
    callback.setup(None, model, "fit")
    assert callback.encoder is model.encoder

    def step(index: int, scale: float) -> None:
        batch = decoder_batch()
        trainer = SimpleNamespace(
            global_step=index, current_epoch=0, loggers=[], gradient_clip_val=None
        )
        callback.on_train_batch_start(trainer, model, batch, index)
        model.zero_grad()
        (scale * model._step(batch, "train")[0]).backward()
        callback.on_before_optimizer_step(trainer, model, None)
        callback.on_train_batch_end(trainer, model, None, batch, index)

    with caplog.at_level(logging.WARNING, logger="seqlab.training.callbacks.gradients"):
        for index in range(6):
            step(index, 1.0)
        assert not caplog.records
        step(6, 1000.0)
    assert len(caplog.records) == 1
    assert "step 6" in caplog.text and "exploding" in caplog.text
    assert len(callback.history["steps"]) == 7  # every_n_steps=1: each step logged
    assert all(len(curve["l0"]) == 9 for curve in callback.history["hidden"])
    assert {"ih_l0", "hh_l0", "head", "global"} <= set(callback.history["norms"][-1])
