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
    from seqlab.data.input_config import ReaderConfig
    from seqlab.data.meta import DataMeta
    from seqlab.data.prediction import PredictionData


@dataclass(frozen=True)
class DataKind:
    config: type  # the options' dataclass: the one place their types and defaults live
    datamodule: str  # "module:Class", a SequenceDataModule taking that dataclass
    # "module:function" reading a new input with a checkpoint's fitted state (seqlab-predict,
    # seqlab-eval input=), without the DataModule: prediction imports no Lightning. Called as
    # f(options, task, fitted, meta, source, reader) (only event data reads the task); None:
    # the kind generates its data, so there is no input file to read
    input_reader: str | None = None


DATA_KINDS: dict[str, DataKind] = {
    "ucr": DataKind(
        UCRDataConfig,
        "seqlab.data.ucr.datamodule:UCRDataModule",
        "seqlab.data.ucr.predict:read_input",
    ),
    "memory": DataKind(MemoryDataConfig, "seqlab.data.memory.datamodule:MemoryDataModule"),
    "text": DataKind(
        TextDataConfig,
        "seqlab.data.text.datamodule:TextDataModule",
        "seqlab.data.text.predict:read_input",
    ),
    "events": DataKind(
        EventsDataConfig,
        "seqlab.data.events.datamodule:EventDataModule",
        "seqlab.data.events.predict:read_input",
    ),
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


def read_prediction_input(
    data: dict[str, Any],
    task: str,
    fitted: dict[str, Any],
    meta: "DataMeta",
    source: str,
    reader: "ReaderConfig",
) -> "PredictionData":
    """A new input file (or `-`, standard input) read and preprocessed as a checkpoint's
    training data was: `data`, its data options; `fitted`, its fitted state."""
    from seqlab.errors import SeqlabError

    options = data_config(data)
    path = DATA_KINDS[options.kind].input_reader
    if path is None:
        readers = [name for name, kind in DATA_KINDS.items() if kind.input_reader]
        raise SeqlabError(
            f"this data kind generates its data (data.kind={options.kind}), so there are no "
            f"input files to predict on; seqlab-predict reads the files of "
            f"{', '.join(readers[:-1])} and {readers[-1]} data"
        )
    return load_object(path)(options, task, fitted, meta, source, reader)


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
