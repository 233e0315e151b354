"""Every encoder kind: its options (a dataclass, checked before torch is imported) and its
class (imported only when a model is built). Adding a model is one line here."""

from dataclasses import dataclass
from importlib import import_module
from typing import TYPE_CHECKING, Any

from seqlab.models.config import FCNConfig, MLPConfig, RecurrentConfig, RecurrentFCNConfig

if TYPE_CHECKING:
    from torch import nn

    from seqlab.data.meta import DataMeta


@dataclass(frozen=True)
class ModelKind:
    config: type  # the options' dataclass: the one place their types and defaults live
    encoder: str  # "module:Class" with from_config(config, meta, input_dim) and output_dim


MODEL_KINDS: dict[str, ModelKind] = {
    "mlp": ModelKind(MLPConfig, "seqlab.models.mlp:MLPEncoder"),
    "recurrent": ModelKind(RecurrentConfig, "seqlab.models.recurrent:RecurrentEncoder"),
    "fcn": ModelKind(FCNConfig, "seqlab.models.fcn:FCNEncoder"),
    "recurrent_fcn": ModelKind(RecurrentFCNConfig, "seqlab.models.fcn:RecurrentFCNEncoder"),
}


def build_encoder(model: dict[str, Any], meta: "DataMeta", input_dim: int) -> "nn.Module":
    """The encoder of model['kind'], reading `input_dim` features per time step."""
    from seqlab.errors import SeqlabError
    from seqlab.schema import to_dataclass

    if model.get("kind") not in MODEL_KINDS:
        raise SeqlabError(
            f"model.kind={model.get('kind')!r} is not a model kind (a hand-edited checkpoint?); "
            f"use one of {', '.join(MODEL_KINDS)}"
        )
    kind = MODEL_KINDS[model["kind"]]
    module, _, name = kind.encoder.partition(":")
    encoder_class = getattr(import_module(module), name)
    return encoder_class.from_config(to_dataclass(kind.config, model), meta, input_dim)
