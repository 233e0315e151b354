"""Options for reading a new input file with a checkpoint's fitted preprocessing
(seqlab-predict, and seqlab-eval input=...). Free of torch: checked before it loads."""

from dataclasses import dataclass
from enum import StrEnum


class InputLabels(StrEnum):
    # labelled when the file says so: a label column, a .ts @classLabel header, UCR 2015 rows
    # one value longer than the training series, `<label> <text>` lines whose first words are
    # all class names, or an event log that reaches past the cutoff
    auto = "auto"
    true = "true"  # the input must carry labels
    false = "false"  # ignore any labels (UCR 2015: no label value before the series)


@dataclass
class ReaderConfig:
    # null: the checkpoint's training format (data.format); text and events also take a
    # suffix rule (auto), UCR ts | ucr2015
    format: str | None = None
    text_column: str | None = None  # text tables: the text column; null: the training one
    label_column: str | None = None  # tables: the label column; null: the training one
    id_column: str | None = None  # tables: a column written as `id`; null: the row number
    labels: InputLabels = InputLabels.auto  # whether the input carries true labels
