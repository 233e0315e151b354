"""Token-id models: padding never changes a prediction; keras_lstm's exact parameter counts."""

import pytest
import torch

from seqlab.data.meta import DataMeta
from seqlab.data.registry import build_datamodule
from seqlab.data.text.datamodule import TextDataModule
from seqlab.errors import SeqlabError
from seqlab.models.classifier import SequenceClassifier
from seqlab.models.summary import layer_parameters
from seqlab.schema import plain

from conftest import compose_train, corpus, write_lines

INPUTS = {"embedding_dim": 8, "embedding_dropout": 0.0, "freeze_embeddings": False}
MODELS = [
    {
        "kind": "recurrent",
        "cell": cell,
        "hidden_size": 6,
        "num_layers": 1,
        "bidirectional": bidirectional,
        "dropout": 0.0,
        "pooling": pooling,
        "single_bias": cell == "lstm",
        **INPUTS,
    }
    for cell in ("rnn", "lstm", "gru")
    for bidirectional, pooling in ((True, "last"), (False, "mean"), (True, "max"))
] + [
    {
        "kind": "mlp",
        "hidden_sizes": [8],
        "activation": "relu",
        "dropout": 0.0,
        "input": mode,
        **INPUTS,
    }
    for mode in ("mean", "max")
]
OPTIM = {"name": "adam", "lr": 1e-3, "weight_decay": 0.0, "momentum": 0.9, "scheduler": "none"}


def classifier(model_cfg: dict, meta: DataMeta) -> SequenceClassifier:
    torch.manual_seed(0)
    return SequenceClassifier(
        model=model_cfg, meta=meta.to_dict(), optim=OPTIM, metrics={"average": "macro"}
    ).eval()


@pytest.fixture(scope="module")
def tiny_text(tmp_path_factory) -> TextDataModule:
    folder = tmp_path_factory.mktemp("text")
    rows = [*corpus(40), ("good", " ".join(["great film"] * 20))]  # one long text
    write_lines(folder / "train.txt", rows)
    write_lines(folder / "test.txt", corpus(10, seed=1))
    data = build_datamodule(
        {"kind": "text", "root": str(folder), "train_file": "train.txt", "test_file": "test.txt"}
    )
    data.setup("fit")
    return data


@pytest.mark.parametrize(
    "model_cfg", MODELS, ids=lambda c: "-".join(str(v) for v in c.values())[:40]
)
def test_a_tokenised_sample_padded_to_two_lengths_gets_the_same_logits(tiny_text, model_cfg):
    model = classifier(model_cfg, tiny_text.meta)
    train = tiny_text.splits["train"]
    lengths = train.lengths.tolist()
    short = min(range(len(lengths)), key=lengths.__getitem__)
    longest = max(range(len(lengths)), key=lengths.__getitem__)
    middle = next(i for i, n in enumerate(lengths) if lengths[short] < n < lengths[longest])
    with torch.no_grad():
        alone = model(train.__getitems__([short]))[0]
        # the same sample in batches trimmed to two different lengths: padded, then more padded
        for partner in (middle, longest):
            batch = train.__getitems__([short, partner])
            assert batch.categories.shape[1] == lengths[partner] > lengths[short]
            assert torch.allclose(model(batch)[0], alone, atol=1e-6)


KERAS_META = DataMeta(
    num_features=0,
    num_classes=10,
    class_names=tuple("abcdefghij"),
    max_length=200,
    category_sizes=(1000,),
    category_names=("tokens",),
)


@pytest.mark.parametrize(("single_bias", "lstm_params"), [(True, 98_816), (False, 99_328)])
def test_keras_lstm_parameter_counts(single_bias, lstm_params):
    model_cfg = plain(
        compose_train(["experiment=keras_lstm", f"model.single_bias={single_bias}"]).model
    )
    counts = {kind: count for _, kind, count in layer_parameters(classifier(model_cfg, KERAS_META))}
    bias = "one bias" if single_bias else "two biases"
    assert counts == {
        "Embedding(1000, 64)": 64_000,
        f"LSTM(64 -> 128, {bias})": lstm_params,
        "Linear(128 -> 10)": 1_290,
    }
    assert sum(counts.values()) == (164_106 if single_bias else 164_618)


def test_single_bias_lstm_keeps_a_zero_hidden_bias_that_never_trains():
    model_cfg = plain(compose_train(["experiment=keras_lstm"]).model)
    model = classifier(model_cfg, KERAS_META).train()
    batch = torch.randint(1, 1000, (3, 7, 1))
    from seqlab.data.batch import Batch

    logits = model(Batch(torch.zeros(3, 7, 0), batch, torch.tensor([7, 4, 2]), torch.zeros(3)))
    logits.sum().backward()
    rnn = model.encoder.rnn
    assert "bias_hh_l0" not in dict(rnn.named_parameters())
    assert torch.equal(rnn.bias_hh_l0, torch.zeros(512))
    assert rnn.bias_ih_l0.grad is not None
    assert "encoder.rnn.bias_hh_l0" in model.state_dict()  # checkpoints round-trip


def test_single_bias_is_refused_for_the_gru():
    model_cfg = plain(compose_train(["model=gru", "model.single_bias=true"]).model)
    with pytest.raises(SeqlabError, match="single_bias=true applies to rnn and lstm"):
        classifier(model_cfg, KERAS_META)


@pytest.mark.slow
def test_keras_lstm_experiment_data_gives_dense_10_and_embedding_1000(tmp_path):
    config = compose_train(["experiment=keras_lstm", f"data.cache_dir={tmp_path}"])
    from seqlab.data.registry import build_datamodule

    data = build_datamodule(config.data)
    data.setup("fit")
    assert data.meta.num_classes == 10 and data.meta.category_sizes == (1000,)
    assert data.meta.max_length == 200
