"""Encoders built from `cfg.model` and the data's meta; the classifier adds the head and loss."""

from torch import nn

from seqlab.data.meta import DataMeta


def build_encoder(model_cfg: dict, meta: DataMeta) -> nn.Module:
    options = {k: v for k, v in model_cfg.items() if k != "kind"}
    if model_cfg["kind"] == "mlp":
        from seqlab.models.mlp import MLPEncoder

        return MLPEncoder(num_features=meta.num_features, max_length=meta.max_length, **options)
    if model_cfg["kind"] == "recurrent":
        from seqlab.models.recurrent import RecurrentEncoder

        return RecurrentEncoder(num_features=meta.num_features, **options)
    raise ValueError(f"unknown model kind {model_cfg['kind']!r}")
