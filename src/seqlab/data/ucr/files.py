"""Readers for the two UCR/UEA file formats, with errors that name the file, line and fix.

sktime and aeon ship `.ts` readers, but importing either pulls in a large dependency chain
(pandas extension types, numba, scipy), so seqlab reads both formats itself:

- `.ts` (UEA/sktime): `@key value` header lines, then `@data`, then one series per line with its
  dimensions separated by `:` and the class label last;
- UCR 2015 text (`<Name>_TRAIN`, `<Name>_TEST`): one series per line, class label first, values
  separated by commas or whitespace.
"""

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from seqlab.errors import SeqlabError

_SEPARATOR = re.compile(r"[,\s]+")
UTF8_BOM = b"\xef\xbb\xbf"


@dataclass
class RawSeries:
    """Series of shape (length, channels), possibly of different lengths, and their labels."""

    series: list[np.ndarray]
    labels: np.ndarray  # strings, as written in the file
    path: str


def read_series_file(path: Path, series_format: str, labelled: bool = True) -> RawSeries:
    """`labelled=False` reads series without a class label (labels come back empty)."""
    if not path.is_file():
        raise SeqlabError(f"{path}: file not found")
    text = _decoded(path)
    if series_format == "ts":
        return _parse_ts(text, str(path), labelled)
    return _parse_ucr2015(text, str(path), labelled)


def _parse_ucr2015(text: str, path: str, labelled: bool = True) -> RawSeries:
    series, labels = [], []
    expected_length = None
    for line_number, line in enumerate(text.splitlines(), start=1):
        fields = [f for f in _SEPARATOR.split(line.strip()) if f]
        if not fields:
            continue
        values = _floats(fields[1:] if labelled else fields, path, line_number)
        if expected_length is None:
            expected_length = len(values)
        elif len(values) != expected_length:
            raise SeqlabError(
                f"{path}:{line_number}: ragged row of {len(values)} values where "
                f"earlier rows have {expected_length}; UCR 2015 files hold "
                "equal-length series, fix or drop the row"
            )
        labels.append(fields[0] if labelled else "")
        series.append(values[:, None])
    if not series:
        raise SeqlabError(f"{path}: no series found; is it a UCR 2015 text file?")
    return RawSeries(series, np.array(labels), path)


def _parse_ts(text: str, path: str, labelled: bool = True) -> RawSeries:
    header: dict[str, str] = {}
    lines = text.splitlines()
    data_start = None
    for line_number, line in enumerate(lines, start=1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if stripped.lower() == "@data":
            data_start = line_number
            break
        if stripped.startswith("@"):
            key, _, value = stripped[1:].partition(" ")
            header[key.lower()] = value.strip()
    if data_start is None:
        raise SeqlabError(f"{path}: no @data line; is it a .ts file?")
    if header.get("timestamps", "false").lower() == "true":
        raise SeqlabError(
            f"{path}: time-stamped .ts series are not supported; export the file without timestamps"
        )
    if labelled and not header.get("classlabel", "").lower().startswith("true"):
        raise SeqlabError(f"{path}: @classLabel is not true; seqlab needs labelled series")
    equal_length = header.get("equallength", "true").lower() == "true"

    series, labels = [], []
    expected_length = None
    for line_number, line in enumerate(lines[data_start:], start=data_start + 1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        *dimensions, label = stripped.split(":") if labelled else [*stripped.split(":"), ""]
        if not dimensions:
            raise SeqlabError(f"{path}:{line_number}: no ':' before the class label")
        channels = [_floats(d.split(","), path, line_number) for d in dimensions]
        lengths = {len(c) for c in channels}
        if len(lengths) != 1:
            raise SeqlabError(
                f"{path}:{line_number}: dimensions of one series have different "
                f"lengths {sorted(lengths)}; seqlab needs one length per series"
            )
        length = lengths.pop()
        if equal_length:
            if expected_length is None:
                expected_length = length
            elif length != expected_length:
                raise SeqlabError(
                    f"{path}:{line_number}: ragged row of {length} values in an "
                    f"@equalLength true file whose other rows have "
                    f"{expected_length}; fix the row or set @equalLength false"
                )
        labels.append(label.strip())
        series.append(np.stack(channels, axis=1))
    if not series:
        raise SeqlabError(f"{path}: no series after @data")
    return RawSeries(series, np.array(labels), path)


def _decoded(path: Path) -> str:
    """The file as text. Excel and Notepad start UTF-8 files with a byte-order mark, which would
    otherwise become part of the first label (a class of its own)."""
    data = path.read_bytes()
    start = len(UTF8_BOM) if data.startswith(UTF8_BOM) else 0
    nul = data.find(b"\x00")
    if nul >= 0:
        raise SeqlabError(
            f"{path}: byte {nul} is a NUL byte: a binary file, not UCR text or .ts; "
            "point data.root at the series files"
        )
    try:
        return data[start:].decode("utf-8")
    except UnicodeDecodeError as error:
        offset = start + error.start  # counted from the file's first byte
        line = data.count(b"\n", 0, offset) + 1
        bad = data[offset : start + error.end]
        raise SeqlabError(
            f"{path}: byte {offset} (line {line}) is {bad!r}, not valid UTF-8; save the "
            "file as UTF-8 (or plain ASCII) and run again"
        ) from None


def _floats(fields: list[str], path: str, line_number: int) -> np.ndarray:
    try:
        values = np.array(fields, dtype=np.float32)
    except ValueError:
        bad = next(f for f in fields if not _is_float(f))
        raise SeqlabError(
            f"{path}:{line_number}: {bad!r} is not a number; missing values "
            "('?') are not supported, impute them first"
        ) from None
    if values.size == 0:
        raise SeqlabError(f"{path}:{line_number}: a series with no values")
    if not np.isfinite(values).all():
        raise SeqlabError(
            f"{path}:{line_number}: NaN or infinite values; seqlab does not "
            "impute, fill or drop them before training"
        )
    return values


def _is_float(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def format_of(path: Path, requested: str) -> str:
    """The format to read `path` in: the one asked for, or (auto) the one its suffix says."""
    if requested != "auto":
        return requested
    return "ts" if path.suffix == ".ts" else "ucr2015"
