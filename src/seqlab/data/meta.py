"""What a model needs to know about its data, built by the data module after setup.

It travels inside the checkpoint's hyperparameters, so evaluation rebuilds the model from the
checkpoint alone; no dimension is ever typed into a config.
"""

from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class DataMeta:
    num_features: int  # float channels per time step (0 for pure token data)
    num_classes: int
    class_names: tuple[str, ...]
    max_length: int  # longest sequence in any split
    # One entry per categorical column (tokens, event type, item, ...): the number of ids,
    # padding (0) and unknown included. Empty for purely numeric series.
    category_sizes: tuple[int, ...] = ()
    category_names: tuple[str, ...] = ()
    # Special ids of the categorical columns: padding is always 0 (batch.PAD_ID); token data
    # also reserves an id for values never seen in training.
    padding_id: int = 0
    unknown_id: int | None = None

    def to_dict(self) -> dict:
        values = asdict(self)
        return {key: list(v) if isinstance(v, tuple) else v for key, v in values.items()}

    @classmethod
    def from_dict(cls, values: dict) -> "DataMeta":
        fields: dict[str, Any] = {
            key: tuple(v) if isinstance(v, list) else v for key, v in values.items()
        }
        return cls(**fields)
