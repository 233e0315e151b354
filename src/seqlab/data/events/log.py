"""Reading one event log into a checked, canonical table.

Whatever the file calls its columns, the result has `entity`, `time` (datetime64), one column
per categorical column (as strings) and per numeric column (float64), and `row` (the event's
position in the file, used as the last sort key so equal timestamps keep the file's order).
Every problem a user can fix stops here with one line naming it and the fix.
"""

import logging
from pathlib import Path

import numpy as np
import pandas as pd

from seqlab.data.embedded import embedded_path
from seqlab.errors import SeqlabError

log = logging.getLogger(__name__)

CDNOW_PACKAGE, CDNOW_VERSION = "lifetimes", "0.11.3"
CDNOW_FILE = "lifetimes/datasets/CDNOW_master.txt"
SEPARATORS = {"csv": ",", "tsv": "\t", "whitespace": r"\s+"}


def cdnow_path() -> Path:
    """The CDNOW purchase log inside the lifetimes wheel, read as a file (never imported)."""
    path = embedded_path(CDNOW_PACKAGE, CDNOW_VERSION, CDNOW_FILE, "set data.path to an event log")
    if not path.is_file():
        raise SeqlabError(
            f"{path}: not found in the installed {CDNOW_PACKAGE}; reinstall it with "
            f"pip install --force-reinstall {CDNOW_PACKAGE}=={CDNOW_VERSION}"
        )
    return path


def read_event_log(
    path: Path,
    file_format: str,
    columns: dict,
    time_format: str,
    duplicates: str,
    time_range: dict,
) -> pd.DataFrame:
    raw = _read_table(path, file_format)
    categorical, numeric = list(columns["categorical"]), list(columns["numeric"])
    wanted = [columns["entity"], columns["time"], *categorical, *numeric]
    missing = [name for name in wanted if name not in raw.columns]
    if missing:
        raise SeqlabError(
            f"{path}: column(s) {missing} not found (the file has {list(raw.columns)}); "
            "fix data.columns to name the file's columns"
        )
    if len(set(wanted)) != len(wanted):
        raise SeqlabError(f"data.columns names a column twice ({wanted}); use each once")
    raw = raw[wanted]
    entity = raw[columns["entity"]]
    no_entity = (entity.isna() | (entity.astype(str).str.strip() == "")).to_numpy()
    if no_entity.any():
        raise SeqlabError(
            f"{path}: {int(no_entity.sum())} row(s) have no {columns['entity']!r}, the first at "
            f"data row {_row_number(raw, no_entity)}; every event needs its entity id, drop them"
        )
    raw = _apply_duplicate_policy(raw, duplicates, path)
    events = pd.DataFrame(
        {
            "entity": entity.loc[raw.index].astype(str).to_numpy(),
            "time": _parse_times(raw[columns["time"]], time_format, path, time_range),
        }
    )
    for name in categorical:
        events[name] = raw[name].astype(str).to_numpy()
    for name in numeric:
        events[name] = _numeric(raw[name], name, path)
    events["row"] = raw.index.to_numpy()  # position in the file, before any drop
    return events


def _read_table(path: Path, file_format: str) -> pd.DataFrame:
    if not path.is_file():
        raise SeqlabError(f"{path}: file not found; fix data.path")
    if file_format == "auto":
        suffix = path.suffix.lower()
        file_format = {".csv": "csv", ".tsv": "tsv", ".tab": "tsv", ".parquet": "parquet"}.get(
            suffix, "whitespace"
        )
    try:
        if file_format == "parquet":
            return pd.read_parquet(path).reset_index(drop=True)
        # Everything is read as text first, so ids keep leading zeros and the checks below see
        # exactly what the file holds.
        return pd.read_csv(path, sep=SEPARATORS[file_format], dtype=str, keep_default_na=False)
    except (ValueError, OSError, pd.errors.ParserError) as error:
        first = str(error).strip().splitlines()[0]
        raise SeqlabError(
            f"{path}: cannot be read as {file_format} ({first}); fix the file or data.format"
        ) from None


def _apply_duplicate_policy(raw: pd.DataFrame, policy: str, path: Path) -> pd.DataFrame:
    repeated = raw.duplicated(keep="first")
    count = int(repeated.sum())
    if count == 0:
        return raw
    if policy == "error":
        first = raw[repeated.to_numpy()].iloc[0].to_dict()
        raise SeqlabError(
            f"{path}: {count} duplicate row(s), the first at data row "
            f"{_row_number(raw, repeated.to_numpy())} ({first}); set data.duplicates=drop "
            "(keep the first) or keep (separate events)"
        )
    if policy == "drop":
        log.warning("%s: dropped %d duplicate row(s) (data.duplicates=drop)", path, count)
        return raw[~repeated.to_numpy()]
    log.warning(
        "%s: kept %d duplicate row(s) as separate events (data.duplicates=keep)", path, count
    )
    return raw


def _parse_times(values: pd.Series, time_format: str, path: Path, time_range: dict) -> np.ndarray:
    text = values.astype(str)
    if time_format == "unix":
        seconds = pd.to_numeric(text, errors="coerce")
        parsed = pd.to_datetime(seconds, unit="s", errors="coerce")
    else:
        fmt = None if time_format == "auto" else time_format
        parsed = pd.to_datetime(text, format=fmt, errors="coerce")
    bad = parsed.isna().to_numpy()
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise SeqlabError(
            f"{path}: {int(bad.sum())} timestamp(s) in {values.name!r} cannot be parsed with "
            f"time_format={time_format!r}, the first {text.iloc[row]!r} at data row "
            f"{_row_number(values, bad)}; fix the file or set data.time_format "
            "(auto, unix or a strftime format)"
        )
    _check_range(parsed, text, time_range, path)
    return parsed.to_numpy(dtype="datetime64[ns]")


def _check_range(parsed: pd.Series, text: pd.Series, time_range: dict, path: Path) -> None:
    """Refuse timestamps outside data.time_range before they are cast to nanoseconds, whose
    range (1677 to 2262) would wrap a year like 3000 around into the past without a word."""
    earliest = _bound(time_range["earliest"], "earliest", parsed)
    latest = _bound(time_range["latest"], "latest", parsed)
    outside = ((parsed < earliest) | (parsed > latest)).to_numpy()
    if outside.any():
        row = int(np.flatnonzero(outside)[0])
        raise SeqlabError(
            f"{path}: {int(outside.sum())} timestamp(s) in {text.name!r} outside "
            f"{earliest.date()} .. {latest.date()}, the first {text.iloc[row]!r} at data row "
            f"{_row_number(text, outside)}; fix the typo, or widen data.time_range "
            "(earliest, latest) if the dates are real"
        )


def _bound(value: str, key: str, parsed: pd.Series) -> pd.Timestamp:
    try:
        bound = pd.Timestamp(value)
    except (ValueError, TypeError):
        raise SeqlabError(
            f"data.time_range.{key}={value!r} is not a date; write it like 1900-01-01"
        ) from None
    zone = parsed.dt.tz
    if zone is not None and bound.tzinfo is None:
        bound = bound.tz_localize(zone)
    return bound


def _numeric(values: pd.Series, name: str, path: Path) -> np.ndarray:
    numbers = pd.to_numeric(values.replace("", None), errors="coerce").astype(float).to_numpy()
    bad = ~np.isfinite(numbers)
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise SeqlabError(
            f"{path}: {int(bad.sum())} missing, NaN or non-numeric value(s) in numeric column "
            f"{name!r}, the first {values.iloc[row]!r} at data row {_row_number(values, bad)}; "
            "seqlab does not impute: fill or drop them, or move the column to "
            "data.columns.categorical"
        )
    return numbers


def _row_number(frame: pd.DataFrame | pd.Series, mask: np.ndarray) -> int:
    """1-based data row (header excluded) in the file of the first row where mask is true."""
    return int(frame.index[np.flatnonzero(mask)[0]]) + 1
