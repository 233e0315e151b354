"""What a model needs to know about its data, built by the data module after setup.

It travels inside the checkpoint's hyperparameters, so evaluation rebuilds the model from the
checkpoint alone; no dimension is ever typed into a config.
"""

from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class DataMeta:
    num_features: int  # channels per time step
    num_classes: int
    class_names: tuple[str, ...]
    max_length: int  # longest sequence in any split

    def to_dict(self) -> dict:
        return {**asdict(self), "class_names": list(self.class_names)}

    @classmethod
    def from_dict(cls, values: dict) -> "DataMeta":
        return cls(**{**values, "class_names": tuple(values["class_names"])})
