"""New UCR/UEA series for a trained model: .ts or UCR 2015 text, with or without labels, scaled
with the scaler fitted on the training part (stored in the checkpoint)."""

from pathlib import Path
from typing import Any

import numpy as np
import torch

from seqlab.data.batch import SequenceDataset
from seqlab.data.input_config import ReaderConfig
from seqlab.data.meta import DataMeta
from seqlab.data.padding import pad_sequences
from seqlab.data.prediction import (
    PredictionData,
    label_indices,
    no_labels,
    refuse_unreadable_text,
)
from seqlab.data.scaler import standardize
from seqlab.data.ucr.config import UCRDataConfig
from seqlab.data.ucr.files import _SEPARATOR, format_of, read_series_file
from seqlab.errors import SeqlabError

FORMATS = ("auto", "ts", "ucr2015")


def read_input(
    config: UCRDataConfig,
    task: str,
    fitted: dict[str, Any],
    meta: DataMeta,
    source: str,
    reader: ReaderConfig,
) -> PredictionData:
    path = Path(source).expanduser()
    if not path.is_file():
        raise SeqlabError(f"{path}: file not found; pass input=<a .ts or UCR 2015 file>")
    requested = reader.format or str(config.format)
    if requested not in FORMATS:
        raise SeqlabError(f"reader.format={requested!r}: UCR data reads {', '.join(FORMATS)}")
    series_format = format_of(path, requested)
    refuse_unreadable_text(path, series_format)
    in_file = _labels_in_file(path, series_format, fitted.get("length"), reader.labels)
    raw = read_series_file(path, series_format, labelled=in_file)
    labelled = in_file and reader.labels != "false"
    for row, series in enumerate(raw.series):
        if series.shape[1] != meta.num_features:
            raise SeqlabError(
                f"{path}: series {row} has {series.shape[1]} channel(s); the model was trained "
                f"on {meta.num_features}"
            )
    series_list = raw.series
    if fitted.get("scaler") is not None:
        state = fitted["scaler"]
        series_list = [standardize(s, state).astype(np.float32) for s in series_list]
    inputs, lengths = pad_sequences(series_list, max(len(s) for s in series_list))
    if labelled:
        where = lambda row: f"{path}: series {row}"  # noqa: E731
        labels = torch.from_numpy(label_indices(raw.labels.tolist(), meta.class_names, where))
    else:
        labels = no_labels(len(series_list))
    ids = [str(row) for row in range(len(series_list))]
    return PredictionData(SequenceDataset(inputs, None, lengths, labels), ids, labelled)


def _labels_in_file(path: Path, series_format: str, length: int | None, wanted: str) -> bool:
    """Whether each series carries a label: the .ts header says so; a UCR 2015 row holds one
    value more than the training series (its label) or exactly as many."""
    text = path.read_text(encoding="utf-8", errors="replace")
    if series_format == "ts":
        in_file = _ts_class_label(text)
        if wanted == "true" and not in_file:
            raise SeqlabError(f"{path}: @classLabel is false, but reader.labels=true")
        return in_file
    if wanted != "auto":
        return wanted == "true"
    first = next((line for line in text.splitlines() if line.strip()), None)
    if first is None:
        raise SeqlabError(f"{path}: empty input; no series to predict")
    count = len([f for f in _SEPARATOR.split(first.strip()) if f])
    if length is not None and count == length + 1:
        return True
    if length is not None and count == length:
        return False
    raise SeqlabError(
        f"{path}: rows of {count} values; the model was trained on series of "
        f"{length if length is not None else 'varying'} length: set reader.labels=true (the "
        "first value is the label) or reader.labels=false"
    )


def _ts_class_label(text: str) -> bool:
    for line in text.splitlines():
        stripped = line.strip().lower()
        if stripped == "@data":
            break
        if stripped.startswith("@classlabel"):
            return stripped.split()[1:2] == ["true"]
    return False
