"""Every data kind: its options (a dataclass, checked before torch is imported) and its
DataModule (imported only when a run builds it). Adding a kind is one line here."""

from dataclasses import dataclass, is_dataclass
from importlib import import_module
from typing import TYPE_CHECKING, Any

from seqlab.data.events.config import EventsDataConfig
from seqlab.data.memory.config import MemoryDataConfig
from seqlab.data.text.config import TextDataConfig
from seqlab.data.ucr.config import UCRDataConfig
from seqlab.models.tasks import TaskName

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


def build_datamodule(data: Any, task: str = TaskName.classify) -> "SequenceDataModule":
    """The DataModule of a data kind's validated options (its dataclass), or of their plain
    values (a checkpoint's hyperparameters: missing keys take their defaults, so a checkpoint
    written before an option existed still loads). `task` (task.name) says what its labels
    are: one per sequence (classify), one per step (tag), or the sequence itself (generate)."""
    from seqlab.errors import SeqlabError

    options: Any = data if is_dataclass(data) else data_config(data)
    kind = options.kind
    datamodule = load_object(DATA_KINDS[kind].datamodule)(options)
    if task not in datamodule.tasks:
        raise SeqlabError(
            f"task.name={task} is not available for data.kind={kind} (it has "
            f"{', '.join(datamodule.tasks)}); use task={datamodule.tasks[0]}"
        )
    datamodule.task = task
    return datamodule


def data_config(values: dict[str, Any]) -> Any:
    """Plain data options (a checkpoint's, a test's) as their kind's dataclass."""
    from seqlab.errors import SeqlabError
    from seqlab.schema import to_dataclass

    if values.get("kind") not in DATA_KINDS:
        raise SeqlabError(
            f"data.kind={values.get('kind')!r} is not a data kind (a hand-edited checkpoint?); "
            f"use one of {', '.join(DATA_KINDS)}"
        )
    return to_dataclass(DATA_KINDS[values["kind"]].config, values)


def load_object(path: str) -> Any:
    module, _, name = path.partition(":")
    return getattr(import_module(module), name)
