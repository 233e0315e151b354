"""Recurrent options for long series: chunked steps, layer norm, attention pooling, per-cell
initial gate biases and the IRNN; padding never changes a result with any of them."""

import dataclasses

import pytest
import torch
import torch.nn.functional as F

from seqlab.data.batch import Batch
from seqlab.data.meta import DataMeta
from seqlab.errors import SeqlabError
from seqlab.models.classifier import SequenceClassifier
from seqlab.models.config import RecurrentConfig
from seqlab.models.recurrent import chunk_steps
from seqlab.training.callbacks.gradients import hidden_gradient_curves

from conftest import OPTIM, compose_train

META = DataMeta(2, 3, ("a", "b", "c"), max_length=16)


def classifier(**options) -> SequenceClassifier:
    torch.manual_seed(0)
    model = dataclasses.asdict(RecurrentConfig(hidden_size=8, embedding_dim=4, **options))
    return SequenceClassifier(model, META.to_dict(), OPTIM, {"average": "macro"}).eval()


def padded(alone: torch.Tensor, steps: int, fill: float) -> torch.Tensor:
    """One sample (time, features) padded to `steps` with `fill`."""
    extra = torch.full((steps - len(alone), alone.shape[1]), fill)
    return torch.cat([alone, extra])


OPTIONS = {
    "lstm-chunk3-max": {"cell": "lstm", "chunk": 3},
    "gru-chunk4-last": {"cell": "gru", "chunk": 4, "pooling": "last"},
    "bigru-chunk3-last-norm": {
        "cell": "gru",
        "chunk": 3,
        "pooling": "last",
        "bidirectional": True,
        "layer_norm": True,
    },
    "lstm-attention-norm": {"cell": "lstm", "pooling": "attention", "layer_norm": True},
    "bilstm-chunk2-attention-2layers": {
        "cell": "lstm",
        "chunk": 2,
        "pooling": "attention",
        "bidirectional": True,
        "num_layers": 2,
    },
    "irnn-chunk5-mean": {"cell": "rnn", "chunk": 5, "pooling": "mean", "nonlinearity": "relu"},
}


@pytest.mark.parametrize("options", OPTIONS.values(), ids=OPTIONS.keys())
def test_padding_never_changes_a_result(options):
    """A sample alone (7 steps: no chunk size here divides it) and the same sample padded to
    11 and 16 steps with garbage, next to a full-length one, give the same probabilities."""
    model = classifier(**options)
    alone = torch.randn(7, 2)
    expected = model(Batch(alone[None], None, torch.tensor([7]), torch.zeros(1)))[0]
    for steps, fill in ((11, 0.0), (16, 1e3), (16, float("nan"))):
        other = torch.randn(steps, 2)
        inputs = torch.stack([padded(alone, steps, fill), other])
        batch = Batch(inputs, None, torch.tensor([7, steps]), torch.zeros(2))
        got = model(batch)[0]
        assert torch.allclose(got, expected, atol=1e-6), (steps, fill, got, expected)


def test_chunks_hold_consecutive_steps_and_zeros_past_the_end():
    inputs = torch.arange(1.0, 21.0).reshape(1, 10, 2).repeat(2, 1, 1)
    lengths = torch.tensor([10, 7])
    chunked, chunk_lengths = chunk_steps(inputs, lengths, 3)
    assert chunked.shape == (2, 4, 6)  # ceil(10 / 3) chunks of 3 steps x 2 features
    assert chunk_lengths.tolist() == [4, 3]
    # chunk 1 is steps 3, 4, 5 in time order, features of each step together
    assert chunked[0, 1].tolist() == [7.0, 8.0, 9.0, 10.0, 11.0, 12.0]
    # the last chunk of the full sequence: step 9, then two zero steps
    assert chunked[0, 3].tolist() == [19.0, 20.0, 0.0, 0.0, 0.0, 0.0]
    # the 7-step sequence: its third chunk holds step 6 and zeros (steps 7, 8 are padding)
    assert chunked[1, 2].tolist() == [13.0, 14.0, 0.0, 0.0, 0.0, 0.0]
    assert chunked[1, 3].abs().sum() == 0
    assert chunk_steps(inputs, lengths, 1)[0] is inputs


def test_a_chunked_model_reads_k_times_wider_steps():
    model = classifier(cell="gru", chunk=4)
    assert model.encoder.rnn.input_size == 2 * 4
    assert model.encoder.step_lengths(torch.tensor([16, 13, 4, 1])).tolist() == [4, 4, 1, 1]


def test_attention_weights_are_zero_on_padding_and_sum_to_one():
    model = classifier(cell="lstm", pooling="attention")
    attention = model.encoder.attention
    states = torch.randn(3, 6, 8)
    lengths = torch.tensor([6, 2, 4])
    weights = attention.weights(states, lengths)
    real = torch.arange(6)[None, :] < lengths[:, None]
    assert (weights[~real] == 0).all()
    assert (weights[real] > 0).all()
    assert torch.allclose(weights.sum(dim=1), torch.ones(3))
    pooled = attention(states, lengths)
    assert torch.allclose(pooled[1], weights[1, 0] * states[1, 0] + weights[1, 1] * states[1, 1])
    # what lies at padded steps does not move the pooled vector
    garbage = states.clone()
    garbage[1, 2:] = 1e4
    assert torch.allclose(attention(garbage, lengths), pooled)


def test_layer_norm_normalises_what_the_pooling_reads():
    model = classifier(cell="gru", pooling="last", layer_norm=True)
    with torch.no_grad():
        model.encoder.norm.weight.fill_(1.0)
        model.encoder.norm.bias.zero_()
        pooled = model.encoder(torch.randn(4, 9, 2) * 5, torch.tensor([9, 9, 3, 5]))
    assert torch.allclose(pooled.mean(dim=1), torch.zeros(4), atol=1e-5)
    assert torch.allclose(pooled.var(dim=1, unbiased=False), torch.ones(4), atol=1e-3)


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_the_gate_that_keeps_the_state_starts_at_its_bias(cell):
    """Second gate block of both cells: LSTM forget (i, f, g, o), GRU update (r, z, n)."""
    hidden = 8
    for bias, expected in ((None, 1.0), (2.5, 2.5), (0.0, 0.0)):
        rnn = classifier(cell=cell, gate_bias=bias, bidirectional=True, num_layers=2).encoder.rnn
        for name, value in rnn.named_parameters():
            if name.startswith("bias_ih"):
                assert (value[hidden : 2 * hidden] == expected).all(), name
                assert not (value[:hidden] == expected).all(), name  # other gates untouched
            elif name.startswith("bias_hh"):
                assert (value[hidden : 2 * hidden] == 0).all(), name
    single = classifier(cell="lstm", single_bias=True).encoder.rnn
    assert (single.bias_ih_l0[hidden : 2 * hidden] == 1.0).all()
    assert (single.bias_hh_l0 == 0).all()


def test_irnn_starts_from_the_identity_with_relu():
    model = classifier(cell="rnn", nonlinearity="relu", init="identity", num_layers=2)
    rnn = model.encoder.rnn
    assert rnn.nonlinearity == "relu"
    for layer in range(2):
        assert torch.equal(getattr(rnn, f"weight_hh_l{layer}"), torch.eye(8))
        assert (getattr(rnn, f"bias_ih_l{layer}") == 0).all()
        assert (getattr(rnn, f"bias_hh_l{layer}") == 0).all()
        assert 0 < getattr(rnn, f"weight_ih_l{layer}").std() < 0.01
    # at initialisation it carries its state unchanged: a pulse at step 0, zeros after
    rnn = classifier(cell="rnn", nonlinearity="relu", init="identity").encoder.rnn
    inputs = torch.zeros(1, 12, 2)
    inputs[0, 0] = torch.tensor([50.0, -30.0])
    outputs, _ = rnn(inputs)
    assert outputs[0, 0].abs().sum() > 0
    assert torch.allclose(outputs[0, -1], outputs[0, 0])


@pytest.mark.parametrize(
    "overrides,key",
    [
        (["model=gru", "model.nonlinearity=relu"], "model.nonlinearity='relu'"),
        (["model=lstm", "model.init=identity"], "model.init='identity'"),
        (["model=rnn", "model.gate_bias=1.0"], "model.gate_bias=1.0"),
        (["model.chunk=0"], "model.chunk=0"),
        (["model.pooling=attn"], "model.pooling"),
    ],
)
def test_bad_options_name_the_key(overrides, key):
    with pytest.raises(SeqlabError, match=key.replace(".", r"\.").replace("(", r"\(")):
        compose_train(overrides)


def test_the_irnn_preset_composes():
    model = compose_train(["model=irnn"]).model
    assert (model.cell, model.nonlinearity, model.init) == ("rnn", "relu", "identity")


def test_gradient_diagnostics_count_chunks_not_steps():
    """With chunk k the recurrence has ceil(T / k) states; the per-step curve has one value per
    chunk and padded chunks are excluded."""
    model = classifier(cell="gru", chunk=3, pooling="last").train()
    lengths = torch.tensor([9, 4])
    inputs = torch.randn(2, 9, 2)
    model.encoder.request_hidden_states()
    logits = model.head(model.encoder(inputs, lengths))
    F.cross_entropy(logits, torch.tensor([0, 1])).backward()
    states = model.encoder.take_hidden_states()
    assert len(states["l0"]) == 3
    curves, _ = hidden_gradient_curves(states, model.encoder.step_lengths(lengths))
    assert len(curves["l0"]) == 3 and all(value > 0 for value in curves["l0"])


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_chrono_spreads_the_keep_gate_over_time_scales(cell):
    hidden = 8
    rnn = classifier(cell=cell, chrono=50).encoder.rnn
    keep = rnn.bias_ih_l0[hidden : 2 * hidden]
    # log(u), u ~ U(1, 49): time scales 1 to 49 steps, not all alike
    assert (keep >= 0).all() and (keep <= torch.log(torch.tensor(49.0))).all()
    assert keep.std() > 0.1
    assert (rnn.bias_hh_l0[hidden : 2 * hidden] == 0).all()
    if cell == "lstm":
        assert torch.equal(rnn.bias_ih_l0[:hidden], -keep)  # input gate: the negative
        assert (rnn.bias_hh_l0[:hidden] == 0).all()
    # the rnn cell has no gate: chrono leaves it as it is
    assert classifier(cell="rnn", chrono=50).encoder.rnn.bias_ih_l0.abs().max() < 1


def test_chrono_and_gate_bias_exclude_each_other():
    with pytest.raises(SeqlabError, match=r"model\.gate_bias=2\.0 and model\.chrono"):
        compose_train(["model=gru", "model.chrono=100", "model.gate_bias=2.0"])
