"""FCN, LSTM-FCN and GRU-FCN: shapes and parameter counts from the data's meta, padding that
changes no prediction, the recurrent branch under the gradient diagnostics, the three YAML
files and the refusals of their options."""

import math

import pytest
import torch

from seqlab.data.batch import Batch
from seqlab.data.meta import DataMeta
from seqlab.errors import SeqlabError
from seqlab.models.classifier import SequenceClassifier
from seqlab.models.config import AUTO_CHUNK_STEPS, resolve_chunk
from seqlab.models.fcn import FCNEncoder, RecurrentFCNEncoder
from seqlab.models.summary import layer_parameters
from seqlab.training.gradient_norms import group_norms

from conftest import OPTIM, compose_train, run_cli

# three float channels and two categorical columns, as in test_models.py
META = DataMeta(3, 4, ("a", "b", "c", "d"), 12, (5, 9), ("type", "item"))
UNIVARIATE = DataMeta(1, 2, ("x", "y"), 150)
INPUTS = {"embedding_dim": 4, "embedding_dropout": 0.0, "freeze_embeddings": False}
SMALL = {"filters": [8, 16, 8], "kernels": [8, 5, 3], "dropout": 0.0, **INPUTS}
FCN = {"kind": "fcn", **SMALL}
MODELS = {
    "fcn": FCN,
    "lstm_fcn-shuffle": {
        "kind": "recurrent_fcn",
        "cell": "lstm",
        "hidden_size": 6,
        "recurrent_input": "shuffle",
        **SMALL,
    },
    "gru_fcn-shuffle": {"kind": "recurrent_fcn", "cell": "gru", "hidden_size": 6, **SMALL},
    "lstm_fcn-time": {
        "kind": "recurrent_fcn",
        "hidden_size": 6,
        "recurrent_input": "time",
        "chunk": 1,
        **SMALL,
    },
    "gru_fcn-time-chunk5": {
        "kind": "recurrent_fcn",
        "cell": "gru",
        "hidden_size": 6,
        "recurrent_input": "time",
        "chunk": 5,
        **SMALL,
    },
}


def classifier(model: dict, meta: DataMeta = META) -> SequenceClassifier:
    torch.manual_seed(0)
    module = SequenceClassifier(model, meta.to_dict(), OPTIM, {"average": "macro"})
    return module.eval()


def random_batch(lengths: list[int], steps: int, meta: DataMeta = META, seed: int = 0) -> Batch:
    generator = torch.Generator().manual_seed(seed)
    count = len(lengths)
    real = torch.arange(steps)[None, :] < torch.tensor(lengths)[:, None]
    inputs = torch.randn(count, steps, meta.num_features, generator=generator) * real[..., None]
    categories = torch.stack(
        [torch.randint(1, size, (count, steps), generator=generator) for size in (5, 9)], dim=-1
    )[..., : len(meta.category_sizes)]
    return Batch(inputs, categories * real[..., None], torch.tensor(lengths), torch.zeros(count))


def _train_briefly(module: SequenceClassifier) -> None:
    """A few optimizer steps in training mode, so batch norm's running statistics are no
    longer the identity they start as."""
    module.train()
    optimizer = torch.optim.Adam(module.parameters(), lr=1e-2)
    for seed in range(3):
        batch = random_batch([12, 12, 12, 12], 12, seed=seed)
        loss = module(batch).logsumexp(dim=-1).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    module.eval()


@pytest.mark.parametrize("name", MODELS)
@pytest.mark.parametrize("garbage", [0.0, 1e3, float("nan")])
def test_a_longer_series_in_the_batch_changes_no_prediction_of_a_shorter_one(name, garbage):
    module = classifier(MODELS[name])
    _train_briefly(module)
    alone = random_batch([5], 5, seed=7)
    with torch.no_grad():
        expected = module(alone)[0]
        for total in (9, 12):
            batch = random_batch([5, total], total, seed=8)
            batch.inputs[0, :5], batch.categories[0, :5] = alone.inputs[0], alone.categories[0]
            batch.inputs[0, 5:] = garbage  # what the batch holds past the short series' end
            got = module(batch)[0]
            assert torch.allclose(got, expected, atol=1e-5), (total, got, expected)


@pytest.mark.parametrize("name", MODELS)
def test_one_logit_per_class_and_the_encoder_width(name):
    module = classifier(MODELS[name])
    assert module(random_batch([12, 4, 7], 12)).shape == (3, META.num_classes)
    recurrent = 0 if name == "fcn" else 6
    assert module.encoder.output_dim == 8 + recurrent
    assert module.head[1].in_features == 8 + recurrent


def test_the_fcn_has_wang_et_als_layers_and_parameter_count():
    module = classifier({"kind": "fcn", **INPUTS}, UNIVARIATE)
    rows = {name: (kind, count) for name, kind, count in layer_parameters(module)}
    assert rows["encoder.blocks.0.0"] == ("Conv1d(1 -> 128, kernel 8)", 1 * 128 * 8 + 128)
    assert rows["encoder.blocks.1.0"] == ("Conv1d(128 -> 256, kernel 5)", 128 * 256 * 5 + 256)
    assert rows["encoder.blocks.2.0"] == ("Conv1d(256 -> 128, kernel 3)", 256 * 128 * 3 + 128)
    assert rows["encoder.blocks.1.1"] == ("BatchNorm1d(256)", 2 * 256)
    assert rows["head.1"] == ("Linear(128 -> 2)", 128 * 2 + 2)


def test_dimension_shuffle_reads_a_univariate_series_as_one_step():
    module = classifier({**MODELS["lstm_fcn-shuffle"], "filters": [8], "kernels": [3]}, UNIVARIATE)
    encoder = module.encoder
    assert isinstance(encoder, RecurrentFCNEncoder)
    rnn = encoder.recurrent.rnn
    assert (rnn.mode, rnn.input_size, rnn.hidden_size) == ("LSTM", 150, 6)
    assert encoder.fixed_length == 150
    steps, lengths = encoder.recurrent_steps(torch.randn(2, 150, 1), torch.tensor([150, 80]))
    assert steps.shape == (2, 1, 150) and lengths.tolist() == [1, 1]
    assert steps[1, 0, 80:].abs().sum() == 0  # the shorter series' padding reads as zeros
    # multivariate: one step per channel
    shuffled = classifier(MODELS["lstm_fcn-shuffle"]).encoder
    assert shuffled.step_lengths(torch.tensor([12, 3])).tolist() == [META.num_features + 8] * 2


def test_chunk_auto_keeps_the_recurrence_within_its_step_budget():
    for length in (1, 24, 150, 251, 427, 2000):
        chunk = resolve_chunk("auto", length)
        assert math.ceil(length / chunk) <= AUTO_CHUNK_STEPS
        assert chunk == 1 or math.ceil(length / (chunk - 1)) > AUTO_CHUNK_STEPS  # the smallest
    assert resolve_chunk("auto", 150) == 5 and resolve_chunk(7, 150) == 7
    lstm = compose_train(["model=lstm", "model.chunk=auto"]).model
    from dataclasses import asdict

    module = classifier(asdict(lstm), UNIVARIATE)
    assert module.encoder.chunk == 5
    timed = {**MODELS["lstm_fcn-time"], "chunk": "auto"}
    assert classifier(timed, UNIVARIATE).encoder.recurrent.chunk == 5


def test_the_recurrent_branch_is_what_the_gradient_diagnostics_watch():
    module = classifier(MODELS["gru_fcn-time-chunk5"]).train()
    encoder = module.encoder
    batch = random_batch([12, 7], 12)
    encoder.request_hidden_states()
    module(batch).sum().backward()
    states = encoder.take_hidden_states()
    assert list(states) == ["l0"] and len(states["l0"]) == 3  # 12 steps in chunks of 5
    assert all(h.grad is not None for h in states["l0"])
    assert encoder.step_lengths(batch.lengths).tolist() == [3, 2]
    norms = group_norms(module)
    assert {"ih_l0", "hh_l0", "encoder", "head", "embeddings"} <= set(norms)
    assert norms["hh_l0"] > 0


def test_the_fcn_alone_has_no_recurrent_layer_to_watch():
    from seqlab.models.unrolled import RecordsHiddenStates

    encoder = classifier(FCN).encoder
    assert isinstance(encoder, FCNEncoder) and not isinstance(encoder, RecordsHiddenStates)
    assert isinstance(classifier(MODELS["lstm_fcn-shuffle"]).encoder, RecordsHiddenStates)


@pytest.mark.parametrize(
    "model,kind,cell",
    [
        ("fcn", "fcn", None),
        ("lstm_fcn", "recurrent_fcn", "lstm"),
        ("gru_fcn", "recurrent_fcn", "gru"),
    ],
)
def test_the_three_yaml_files_compose(model, kind, cell):
    config = compose_train([f"model={model}"]).model
    assert config.kind == kind
    assert list(config.filters) == [128, 256, 128] and list(config.kernels) == [8, 5, 3]
    if cell:
        assert config.cell == cell
        assert config.recurrent_input == "shuffle" and config.recurrent_dropout == 0.8
        assert config.chunk == "auto"


@pytest.mark.parametrize(
    "overrides,named",
    [
        (["model=lstm_fcn", "model.recurrent_input=sideways"], "model.recurrent_input"),
        (["model=lstm_fcn", "model.chunk=5"], "recurrent_input=shuffle"),
        (["model=gru_fcn", "model.recurrent_dropout=1.0"], "model.recurrent_dropout=1.0"),
        (["model=fcn", "model.kernels=[8,5]"], "one kernel size per block"),
        (["model=fcn", "model.filters=[]"], "model.filters=[]"),
        (["model=lstm", "model.chunk=0"], "model.chunk=0"),
        (["model=lstm", "model.chunk=half"], "model.chunk='half'"),
        (["model=lstm_fcn", "data.variable_length=true"], "model.recurrent_input='shuffle'"),
        (["model=fcn", "data=cdnow", "task=tag"], "task.name='tag'"),
        (["model=lstm", "model.chunk=auto", "data=cdnow", "task=tag"], "model.chunk='auto'"),
    ],
)
def test_bad_options_are_refused_naming_the_key(overrides, named):
    with pytest.raises(SeqlabError, match=r"config: .*") as error:
        compose_train(overrides)
    assert named in str(error.value) and "\n" not in str(error.value)


def test_the_cli_refuses_a_bad_recurrent_input_in_one_line():
    result = run_cli(
        "seqlab.cli.train", "model=lstm_fcn", "model.recurrent_input=sideways", timeout=60
    )
    assert result.returncode == 2
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "model.recurrent_input" in lines[0] and "shuffle" in lines[0]


def test_a_checkpoints_model_section_rebuilds_the_same_encoder():
    module = classifier(MODELS["gru_fcn-time-chunk5"])
    rebuilt = SequenceClassifier(**module.hparams).eval()
    rebuilt.load_state_dict(module.state_dict())
    batch = random_batch([12, 9], 12)
    with torch.no_grad():
        assert torch.equal(rebuilt(batch), module(batch))
