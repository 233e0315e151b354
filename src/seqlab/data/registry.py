"""Every data kind: its options (a dataclass, checked before torch is imported) and its
DataModule (imported only when a run builds it). Adding a kind is one line here."""

from dataclasses import dataclass
from importlib import import_module
from typing import TYPE_CHECKING, Any

from seqlab.data.events.config import EventsDataConfig
from seqlab.data.memory.config import MemoryDataConfig
from seqlab.data.text.config import TextDataConfig
from seqlab.data.ucr.config import UCRDataConfig

if TYPE_CHECKING:
    from seqlab.data.base import SequenceDataModule


@dataclass(frozen=True)
class DataKind:
    config: type  # the options' dataclass: the one place their types and defaults live
    datamodule: str  # "module:Class", a SequenceDataModule taking that dataclass


DATA_KINDS: dict[str, DataKind] = {
    "ucr": DataKind(UCRDataConfig, "seqlab.data.ucr.datamodule:UCRDataModule"),
    "memory": DataKind(MemoryDataConfig, "seqlab.data.memory.datamodule:MemoryDataModule"),
    "text": DataKind(TextDataConfig, "seqlab.data.text.datamodule:TextDataModule"),
    "events": DataKind(EventsDataConfig, "seqlab.data.events.datamodule:EventDataModule"),
}


def build_datamodule(data: dict[str, Any], task: str = "classify") -> "SequenceDataModule":
    """The DataModule of data['kind'] on these options; missing keys take their defaults (a
    checkpoint written before an option existed still loads). `task` (task.name) says what
    its labels are: one per sequence (classify) or one per step (tag)."""
    from seqlab.errors import SeqlabError
    from seqlab.schema import to_dataclass

    if data.get("kind") not in DATA_KINDS:
        raise SeqlabError(
            f"data.kind={data.get('kind')!r} is not a data kind (a hand-edited checkpoint?); "
            f"use one of {', '.join(DATA_KINDS)}"
        )
    kind = DATA_KINDS[data["kind"]]
    datamodule = load_object(kind.datamodule)(to_dataclass(kind.config, data))
    if task not in datamodule.tasks:
        raise SeqlabError(
            f"task.name={task} is not available for data.kind={data['kind']} (it has "
            f"{', '.join(datamodule.tasks)}); use task={datamodule.tasks[0]}"
        )
    datamodule.task = task
    return datamodule


def load_object(path: str) -> Any:
    module, _, name = path.partition(":")
    return getattr(import_module(module), name)
