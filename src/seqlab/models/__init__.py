"""Encoders built from `cfg.model` and the data's meta; the classifier adds the head and loss."""

from torch import nn

from seqlab.data.meta import DataMeta

INPUT_OPTIONS = ("kind", "embedding_dim", "embedding_dropout", "freeze_embeddings")


def build_encoder(model_cfg: dict, meta: DataMeta, input_dim: int) -> nn.Module:
    """The encoder named by model_cfg['kind'], reading `input_dim` features per time step."""
    options = {k: v for k, v in model_cfg.items() if k not in INPUT_OPTIONS}
    if model_cfg["kind"] == "mlp":
        from seqlab.models.mlp import MLPEncoder

        return MLPEncoder(input_dim=input_dim, max_length=meta.max_length, **options)
    if model_cfg["kind"] == "recurrent":
        from seqlab.models.recurrent import RecurrentEncoder

        return RecurrentEncoder(input_dim=input_dim, **options)
    raise ValueError(f"unknown model kind {model_cfg['kind']!r}")
