"""Data modules, one per source kind, chosen by the config's `data.kind`."""

from seqlab.data.base import SequenceDataModule


def build_datamodule(data_cfg: dict) -> SequenceDataModule:
    kind = data_cfg["kind"]
    if kind == "ucr":
        from seqlab.data.timeseries import UCRDataModule

        return UCRDataModule(**data_cfg)
    if kind == "memory":
        from seqlab.data.memory import MemoryDataModule

        return MemoryDataModule(**data_cfg)
    if kind == "text":
        from seqlab.data.text import TextDataModule

        return TextDataModule(**data_cfg)
    if kind == "events":
        from seqlab.data.events import EventDataModule

        return EventDataModule(**data_cfg)
    raise ValueError(f"unknown data kind {kind!r}")
