"""Encoders: padding never changes a sample's output; sizes come from the data's meta."""

import pytest
import torch

from seqlab.data.meta import DataMeta
from seqlab.models.classifier import SequenceClassifier

META = DataMeta(num_features=3, num_classes=4, class_names=("a", "b", "c", "d"), max_length=12)
RECURRENT = [
    {
        "kind": "recurrent",
        "cell": cell,
        "hidden_size": 8,
        "num_layers": layers,
        "bidirectional": bidirectional,
        "dropout": 0.0,
        "pooling": pooling,
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
    }
    for activation, mode in (("relu", "flatten"), ("tanh", "mean"), ("sigmoid", "max"))
]
OPTIM = {
    "name": "adamw",
    "lr": 1e-3,
    "weight_decay": 0.0,
    "momentum": 0.9,
    "scheduler": "none",
    "class_weights": None,
}


def classifier(model_cfg: dict) -> SequenceClassifier:
    torch.manual_seed(0)
    return SequenceClassifier(
        model=model_cfg, meta=META.to_dict(), optim=OPTIM, metrics={"average": "macro"}
    ).eval()


def _name(cfg: dict) -> str:
    return "-".join(str(v) for k, v in cfg.items() if k not in {"kind", "dropout"})


@pytest.mark.parametrize("model_cfg", RECURRENT + MLP, ids=_name)
def test_padding_never_changes_a_samples_output(model_cfg):
    model = classifier(model_cfg)
    sample = torch.randn(1, 5, META.num_features)
    alone = model(sample, torch.tensor([5]))
    # the same sample padded with junk-free zeros to 9 and 12 steps, next to a full-length one
    for total in (9, 12):
        batch = torch.zeros(2, total, META.num_features)
        batch[0, :5] = sample[0]
        batch[1] = torch.randn(total, META.num_features)
        padded = model(batch, torch.tensor([5, total]))
        assert torch.allclose(padded[0], alone[0], atol=1e-6), (total, padded[0], alone[0])


@pytest.mark.parametrize("model_cfg", RECURRENT[:3], ids=_name)
def test_padding_values_are_never_read(model_cfg):
    model = classifier(model_cfg)
    batch = torch.randn(2, 7, META.num_features)
    lengths = torch.tensor([4, 7])
    noisy = batch.clone()
    noisy[0, 4:] = 1e3  # garbage where the first sample is padded
    assert torch.allclose(model(batch, lengths), model(noisy, lengths), atol=1e-6)


def test_output_has_one_logit_per_class_from_meta():
    for cfg in RECURRENT[:2] + MLP[:1]:
        logits = classifier(cfg)(torch.randn(5, 12, 3), torch.full((5,), 12))
        assert logits.shape == (5, META.num_classes)


def test_bidirectional_doubles_the_encoder_width():
    single = classifier(RECURRENT[0])
    double = classifier(RECURRENT[3])
    assert double.encoder.output_dim == 2 * single.encoder.output_dim == 16


def test_class_weights_must_match_the_class_count():
    from seqlab.errors import SeqlabError

    with pytest.raises(SeqlabError, match=r"class_weights has 2 values but the data has 4"):
        SequenceClassifier(
            model=MLP[0],
            meta=META.to_dict(),
            optim={**OPTIM, "class_weights": [1.0, 2.0]},
            metrics={"average": "macro"},
        )
    weighted = SequenceClassifier(
        model=MLP[0],
        meta=META.to_dict(),
        optim={**OPTIM, "class_weights": [1.0, 2.0, 1.0, 1.0]},
        metrics={"average": "macro"},
    )
    assert weighted.loss_fn.weight.tolist() == [1.0, 2.0, 1.0, 1.0]
