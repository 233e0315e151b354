"""Encoders: padding never changes a sample's output; sizes come from the data's meta."""

import pytest
import torch

from seqlab.data.batch import Batch
from seqlab.data.meta import DataMeta
from seqlab.errors import SeqlabError
from seqlab.models.classifier import SequenceClassifier

from conftest import OPTIM

# three float channels and two categorical columns (e.g. event type and item)
META = DataMeta(
    num_features=3,
    num_classes=4,
    class_names=("a", "b", "c", "d"),
    max_length=12,
    category_sizes=(5, 9),
    category_names=("type", "item"),
)
INPUTS = {"embedding_dim": 4, "embedding_dropout": 0.0, "freeze_embeddings": False}
RECURRENT = [
    {
        "kind": "recurrent",
        "cell": cell,
        "hidden_size": 8,
        "num_layers": layers,
        "bidirectional": bidirectional,
        "dropout": 0.0,
        "pooling": pooling,
        **INPUTS,
    }
    for cell in ("rnn", "lstm", "gru")
    for bidirectional in (False, True)
    for pooling, layers in (("last", 2), ("mean", 1), ("max", 1))
]
MLP = [
    {
        "kind": "mlp",
        "hidden_sizes": [16, 8],
        "activation": activation,
        "dropout": 0.0,
        "input": mode,
        **INPUTS,
    }
    for activation, mode in (("relu", "flatten"), ("tanh", "mean"), ("sigmoid", "max"))
]


def classifier(model_cfg: dict, **optim) -> SequenceClassifier:
    torch.manual_seed(0)
    return SequenceClassifier(
        model=model_cfg, meta=META.to_dict(), optim={**OPTIM, **optim}, metrics={"average": "macro"}
    ).eval()


def random_batch(lengths: list[int], steps: int) -> Batch:
    """Random features and ids, with zeros (padding) past each sequence's length."""
    count = len(lengths)
    real = torch.arange(steps)[None, :] < torch.tensor(lengths)[:, None]
    inputs = torch.randn(count, steps, META.num_features) * real[..., None]
    categories = torch.stack(
        [torch.randint(1, size, (count, steps)) for size in META.category_sizes], dim=-1
    )
    return Batch(inputs, categories * real[..., None], torch.tensor(lengths), torch.zeros(count))


def _name(cfg: dict) -> str:
    return "-".join(str(v) for k, v in cfg.items() if k not in {"kind", "dropout", *INPUTS})


@pytest.mark.parametrize("model_cfg", RECURRENT + MLP, ids=_name)
def test_padding_never_changes_a_samples_output(model_cfg):
    model = classifier(model_cfg)
    alone = random_batch([5], 5)
    expected = model(alone)[0]
    # the same sample padded to 9 and 12 steps, next to a full-length one
    for total in (9, 12):
        batch = random_batch([5, total], total)
        batch.inputs[0, :5], batch.categories[0, :5] = alone.inputs[0], alone.categories[0]
        batch.inputs[0, 5:], batch.categories[0, 5:] = 0, 0
        padded = model(batch)[0]
        assert torch.allclose(padded, expected, atol=1e-6), (total, padded, expected)


@pytest.mark.parametrize("model_cfg", RECURRENT[:3], ids=_name)
def test_padding_values_are_never_read(model_cfg):
    model = classifier(model_cfg)
    batch = random_batch([4, 7], 7)
    clean = model(batch)
    batch.inputs[0, 4:] = 1e3  # garbage where the first sample is padded
    batch.categories[0, 4:] = 1
    assert torch.allclose(model(batch), clean, atol=1e-6)


def test_output_has_one_logit_per_class_from_meta():
    for cfg in RECURRENT[:2] + MLP[:1]:
        assert classifier(cfg)(random_batch([12] * 5, 12)).shape == (5, META.num_classes)


def test_input_width_comes_from_meta():
    model = classifier(RECURRENT[0])
    # three float channels plus two embedded columns of width 4
    assert model.inputs.output_dim == 3 + 2 * 4
    assert [t.num_embeddings for t in model.inputs.embeddings] == [5, 9]
    frozen = classifier({**RECURRENT[0], "freeze_embeddings": True})
    assert not any(t.weight.requires_grad for t in frozen.inputs.embeddings)


def test_bidirectional_doubles_the_encoder_width():
    single = classifier(RECURRENT[0])
    double = classifier(RECURRENT[3])
    assert double.encoder.output_dim == 2 * single.encoder.output_dim == 16


def test_class_weights_must_match_the_class_count():
    with pytest.raises(SeqlabError, match=r"class_weights has 2 values but the data has 4"):
        classifier(MLP[0], class_weights=[1.0, 2.0])
    weighted = classifier(MLP[0], class_weights=[1.0, 2.0, 1.0, 1.0])
    assert weighted.loss_fn.weight.tolist() == [1.0, 2.0, 1.0, 1.0]
