"""New texts for a trained model: `<label> <text>` lines or plain lines (standard input too:
seqlab-predict saves `input=-` as a file first), Orange .tab, CSV, TSV, JSON lines or parquet
tables; tokenised with the tokeniser trained on the training split (stored in the checkpoint,
as its JSON)."""

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from seqlab.data.batch import SequenceDataset
from seqlab.data.input_config import ReaderConfig
from seqlab.data.labels import label_name
from seqlab.data.meta import DataMeta
from seqlab.data.padding import pad_sequences
from seqlab.data.prediction import (
    PredictionData,
    label_indices,
    no_labels,
    refuse_unreadable_text,
)
from seqlab.data.text import tokenize
from seqlab.data.text.config import TextDataConfig
from seqlab.data.text.sources import SUFFIX_FORMATS, _decoded_lines
from seqlab.errors import SeqlabError

log = logging.getLogger(__name__)

FORMATS = ("auto", "lines", "tab", "csv", "tsv", "json", "parquet")


@dataclass
class InputTexts:
    texts: list[str]
    labels: list[str] | None
    ids: list[str]
    origin: str
    places: list[str]  # where each text is, for messages (line or row)


def read_input(
    config: TextDataConfig,
    task: str,
    fitted: dict[str, Any],
    meta: DataMeta,
    source: str,
    reader: ReaderConfig,
) -> PredictionData:
    rows = read_texts(config, meta.class_names, source, reader)
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_str(fitted["tokenizer"])
    encoded = [np.array(ids, dtype=np.int64) for ids in tokenize.encode(tokenizer, rows.texts)]
    unknown = sum(int((ids == tokenize.UNK_ID).sum()) for ids in encoded)
    empty = 0
    for i, ids in enumerate(encoded):
        if len(ids) == 0:  # as in training: a text with no token left is one [UNK]
            encoded[i], empty = np.array([tokenize.UNK_ID], dtype=np.int64), empty + 1
    log.info(
        "%s: %d token(s) never seen in training became [UNK]; %d text(s) gave no token",
        rows.origin,
        unknown,
        empty,
    )
    categories, lengths = pad_sequences(
        [ids.reshape(-1, 1) for ids in encoded], max(len(ids) for ids in encoded), np.int64
    )
    if rows.labels is not None:
        where = _where(rows)
        labels = torch.from_numpy(label_indices(rows.labels, meta.class_names, where))
    else:
        labels = no_labels(len(rows.texts))
    dataset = SequenceDataset(None, categories, lengths, labels)
    return PredictionData(dataset, rows.ids, rows.labels is not None, rows.texts)


def _where(rows: InputTexts):
    return lambda row: f"{rows.origin}:{rows.places[row]}"


def read_texts(
    config: TextDataConfig, class_names: tuple[str, ...], source: str, reader: ReaderConfig
) -> InputTexts:
    file_format = reader.format or str(config.format)
    if file_format not in FORMATS:
        raise SeqlabError(f"reader.format={file_format!r}: text data reads {', '.join(FORMATS)}")
    path = Path(source).expanduser()
    if not path.is_file():
        raise SeqlabError(f"{path}: file not found; pass input=<file> or input=- (stdin)")
    by_suffix = SUFFIX_FORMATS.get(path.suffix.lower())
    if file_format == "auto":
        file_format = by_suffix or "lines"
    elif reader.format is None and by_suffix is not None and by_suffix != file_format:
        # a .csv given to a model trained on lines: its header is no text to predict
        log.warning(
            "%s: read as %s by its suffix (the model was trained on %s files; "
            "reader.format=%s reads it as those)",
            path,
            by_suffix,
            file_format,
            file_format,
        )
        file_format = by_suffix
    refuse_unreadable_text(path, file_format)
    text_column = reader.text_column or config.text_column
    label_column = reader.label_column or config.label_column
    if file_format == "lines":
        lines = _decoded_lines(path, config.encoding, config.decode_errors)
        rows = _from_lines(lines, str(path), class_names, reader.labels)
    else:
        table = _read_table(path, file_format, config)
        rows = _from_table(table, str(path), text_column, label_column, reader)
    if not rows.texts:
        raise SeqlabError(f"{rows.origin}: empty input; no text to predict")
    return rows


def _from_lines(
    lines: list[str], origin: str, class_names: tuple[str, ...], wanted: str
) -> InputTexts:
    """`<label> <text>` (or `<label><TAB><text>`) lines, split as training splits them, or
    plain lines. auto: labelled when every line's first word is a class name."""
    numbered = [(number, line) for number, line in enumerate(lines, start=1) if line.strip()]
    split = [
        line.strip().partition("\t") if "\t" in line else line.partition(" ")
        for _, line in numbered
    ]
    if wanted == "auto":
        names = set(class_names)
        labelled = bool(split) and all(label_name(label.strip()) in names for label, _, _ in split)
    else:
        labelled = wanted == "true"
    ids = [str(row) for row in range(len(numbered))]
    places = [str(number) for number, _ in numbered]
    if labelled:
        texts = [text for _, _, text in split]
        return InputTexts(texts, [label.strip() for label, _, _ in split], ids, origin, places)
    return InputTexts([line.strip() for _, line in numbered], None, ids, origin, places)


def _read_table(path: Path, file_format: str, config: TextDataConfig):
    import pandas as pd

    try:
        if file_format in ("csv", "tsv"):
            return pd.read_csv(
                path,
                sep="," if file_format == "csv" else "\t",
                dtype=str,
                keep_default_na=False,
                encoding=config.encoding,
                encoding_errors=str(config.decode_errors),
            )
        if file_format == "json":
            try:
                return pd.read_json(path, lines=True, dtype=False)
            except ValueError:
                return pd.read_json(path, dtype=False)
        if file_format == "parquet":
            return pd.read_parquet(path)
        return _read_orange_tab(path, config)
    except (ValueError, OSError, UnicodeDecodeError) as error:
        first = str(error).strip().splitlines()[0] if str(error).strip() else ""
        raise SeqlabError(
            f"{path}: cannot read it as {file_format} ({type(error).__name__}: {first[:200]}); "
            "fix the file or set reader.format"
        ) from None


def _read_orange_tab(path: Path, config: TextDataConfig):
    """Orange's .tab: a row of column names, a row of types, a row of flags, then the data."""
    import pandas as pd

    lines = _decoded_lines(path, config.encoding, config.decode_errors)
    names = lines[0].split("\t") if lines else []
    rows = [line.split("\t") for line in lines[3:] if line.strip()]
    for number, fields in enumerate(rows, start=4):
        if len(fields) != len(names):
            raise SeqlabError(
                f"{path}:{number}: {len(fields)} tab-separated fields where the header names "
                f"{len(names)}; fix the row"
            )
    return pd.DataFrame(rows, columns=names, dtype=str)


def _from_table(table, origin: str, text_column: str, label_column: str, reader: ReaderConfig):
    columns = [str(c) for c in table.columns]
    for column, option in ((text_column, "text_column"), (reader.id_column, "id_column")):
        if column is not None and column not in columns:
            raise SeqlabError(
                f"{origin}: no column {column!r} (columns: {', '.join(columns) or 'none'}); "
                f"set reader.{option}"
            )
    has_labels = label_column in columns
    if reader.labels == "true" and not has_labels:
        raise SeqlabError(
            f"{origin}: no label column {label_column!r} (columns: {', '.join(columns)}), but "
            "reader.labels=true; set reader.label_column"
        )
    texts = ["" if v is None else str(v) for v in table[text_column].tolist()]
    if reader.id_column is not None:
        ids = [str(v) for v in table[reader.id_column].tolist()]
    else:
        ids = [str(row) for row in range(len(texts))]
    labels = None
    if has_labels and reader.labels != "false":
        labels = [str(v) for v in table[label_column].tolist()]
    places = [f"data row {row + 1}" for row in range(len(texts))]
    return InputTexts(texts, labels, ids, origin, places)
