"""Text classification (`data=text`, `data=r8`, `data=sst2`, `data=sms_spam`).

read the source -> empty texts (error, or dropped with a count) -> optional top-K classes ->
carve the missing test/validation splits (stratified, seeded) -> encode labels on the training
split -> train the tokeniser on the training split only -> token ids per split, cached as Arrow
files through `datasets` under a fingerprint of everything that shapes them -> padded id tensors.

Token ids travel as the one categorical column of a seqlab Batch (id 0 padding, 1 unknown), so
every model embeds them through the shared input layer.
"""

import hashlib
import json
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from seqlab.data.base import SequenceDataModule
from seqlab.data.batch import PAD_ID, SequenceDataset
from seqlab.data.cache import cache_folder
from seqlab.data.meta import DataMeta
from seqlab.data.padding import pad_sequences
from seqlab.data.splits import encode_labels, stratified_split
from seqlab.data.text import tokenize
from seqlab.data.text.config import TextDataConfig
from seqlab.data.text.sources import (
    HubUnavailable,
    RawText,
    ReadOptions,
    read_embedded,
    read_file,
    read_hub,
)
from seqlab.errors import SeqlabError
from seqlab.files import write_text_atomic

if TYPE_CHECKING:
    from tokenizers import Tokenizer
from seqlab.layout import SPLITS
from seqlab.models.tasks import TaskName

log = logging.getLogger(__name__)

CACHE_VERSION = 1  # bump when the cached layout or the tokenisation code changes


class TextDataModule(SequenceDataModule):
    # generate: class-conditioned messages, word by word (data/text/generate.py)
    tasks = (TaskName.classify, TaskName.generate)

    def __init__(self, config: TextDataConfig):
        super().__init__(
            config.batch_size,
            config.num_workers,
            config.bucketing,
            config.bucket_batches,
            seed=config.split_seed,
            in_memory=config.in_memory,
        )
        self.config = config
        self.source = {
            "embedded": config.embedded,
            "hf_name": config.hf_name,
            "hf_config": config.hf_config,
        }
        self.files = {"train": config.train_file, "val": config.val_file, "test": config.test_file}
        self.read_options = ReadOptions(
            config.format,
            config.text_column,
            config.label_column,
            config.encoding,
            config.decode_errors,
        )
        self.tokenizer_settings: dict[str, Any] = {
            "kind": config.tokenizer,
            "vocab_size": config.vocab_size,
            "min_frequency": config.min_frequency,
            "lowercase": config.lowercase,
            "max_length": config.max_length,
        }
        self.tokenizer: Tokenizer | None = None  # set by setup (_token_ids)
        self.cache_hit: bool | None = None  # set by setup: were the token ids read from cache?
        self._texts: dict[str, list[str]] = {}  # set by setup: each split's raw texts
        self.class_names: tuple[str, ...] = ()  # set by setup

    def build_splits(self) -> tuple[dict[str, SequenceDataset], DataMeta]:
        raw = self.read_source()
        for name, part in raw.items():
            raw[name] = self._handle_empty(part)
        if self.config.top_classes is not None:
            raw = _keep_top_classes(raw, self.config.top_classes)
        raw = self._carve_missing_splits(raw)
        labels, class_names = self._encode_labels(raw)
        self.class_names = class_names
        self._texts = {name: [t or "" for t in raw[name].texts] for name in SPLITS}
        ids = self._token_ids(self._texts)
        assert self.tokenizer is not None  # _token_ids trains or loads it
        if self.task == TaskName.generate:
            from seqlab.data.text.generate import teacher_forcing

            return teacher_forcing(ids, labels, class_names, self.tokenizer)
        max_length = max(max(len(row) for row in rows) for rows in ids.values())
        splits = {}
        for name in SPLITS:
            rows = [row.reshape(-1, 1) for row in ids[name]]
            categories, lengths = pad_sequences(rows, max_length, dtype=np.int64)
            splits[name] = SequenceDataset(
                None, categories, lengths, torch.from_numpy(labels[name])
            )
        meta = DataMeta(
            num_features=0,
            num_classes=len(class_names),
            class_names=class_names,
            max_length=max_length,
            category_sizes=(self.tokenizer.get_vocab_size(),),
            category_names=("tokens",),
            padding_id=PAD_ID,
            unknown_id=tokenize.UNK_ID,
        )
        return splits, meta

    def sample_texts(self, split: str) -> list[str] | None:
        return self._texts[split]

    def fitted_state(self) -> dict[str, Any]:
        assert self.tokenizer is not None  # setup trained or loaded it
        if self.task == TaskName.generate:  # what the decoder is conditioned on, by class index
            return {"tokenizer": self.tokenizer.to_str(), "conditions": list(self.class_names)}
        return {"tokenizer": self.tokenizer.to_str()}

    def read_source(self) -> dict[str, RawText]:
        hf_name, embedded = self.source["hf_name"], self.source["embedded"]
        if hf_name and self.files["train"]:
            raise SeqlabError(
                f"data.hf_name={hf_name} and data.train_file={self.files['train']} are both "
                "set; keep one source (set the other to null)"
            )
        if hf_name:
            return self._read_hub(hf_name, self.source["hf_config"])
        train_path = self._path(self.files["train"]) if self.files["train"] else None
        if train_path is not None and not train_path.is_file() and self.config.hf_fallback:
            return self._read_fallback(train_path, self.config.hf_fallback)
        if self.files["train"]:
            return {
                name: read_file(self._path(file), self.read_options)
                for name, file in self.files.items()
                if file
            }
        if any(self.files.values()):
            raise SeqlabError("data.val_file/test_file are set but not data.train_file; set it")
        if not embedded:
            raise SeqlabError(
                "no text source: set data.hf_name, data.train_file or data.embedded (e.g. data=r8)"
            )
        return read_embedded(embedded, self.read_options)

    def _read_hub(self, name: str, config: str | None) -> dict[str, RawText]:
        cache = cache_folder(self.config.cache_dir)
        cache = cache / "hf" if cache else None
        return read_hub(
            name,
            config,
            self.read_options,
            cache_dir=str(cache) if cache else None,
            offline=self.config.offline,
        )

    def _read_fallback(self, train_path: Path, name: str) -> dict[str, RawText]:
        """The hub copy of data whose local files are absent, or one line naming both."""
        log.warning("%s is absent: reading %s from the Hugging Face hub instead", train_path, name)
        try:
            return self._read_hub(name, None)
        except HubUnavailable as error:
            raise SeqlabError(
                f"neither the local file {train_path} nor the Hugging Face hub copy {name} is "
                f"reachable ({error.reason}); put the files under data.root, or run once with "
                "network access so the hub copy is cached"
            ) from None

    def _path(self, file: str) -> Path:
        path = Path(file).expanduser()
        return path if path.is_absolute() or not self.config.root else Path(self.config.root) / path

    def _handle_empty(self, part: RawText) -> RawText:
        empty = [i for i, text in enumerate(part.texts) if text is None or not text.strip()]
        if not empty:
            return part
        if self.config.empty_text == "error":
            raise SeqlabError(
                f"{part.where(empty[0])}: empty text ({len(empty)} in {part.origin}); fill or "
                "remove those rows, or set data.empty_text=drop to drop them (counted in the log)"
            )
        log.warning("%s: dropped %d row(s) with empty text", part.origin, len(empty))
        dropped = set(empty)
        return part.subset([i for i in range(len(part.texts)) if i not in dropped])

    def _carve_missing_splits(self, raw: dict[str, RawText]) -> dict[str, RawText]:
        """A source without a test split gives `test_fraction` of its data to test, then one
        without a validation split gives `val_fraction` of the rest to validation; both
        stratified by class and fixed by split_seed."""
        for held_out, fraction in (
            ("test", self.config.test_fraction),
            ("val", self.config.val_fraction),
        ):
            if held_out in raw:
                continue
            train = raw["train"]
            names, codes = np.unique(np.array(train.labels), return_inverse=True)
            keep, take = stratified_split(
                codes,
                fraction,
                self.config.split_seed,
                f"data.{held_out}_fraction",
                names=tuple(names.tolist()),
            )
            raw["train"], raw[held_out] = train.subset(list(keep)), train.subset(list(take))
            log.info(
                "%s: %d rows held out as %s (fraction %s, seed %d)",
                train.origin,
                len(take),
                held_out,
                fraction,
                self.config.split_seed,
            )
        return raw

    def _encode_labels(self, raw: dict[str, RawText]) -> tuple[dict[str, np.ndarray], tuple]:
        train = np.array(raw["train"].labels)
        encoded = {}
        for name in ("val", "test"):
            encoded["train"], encoded[name], class_names = encode_labels(
                train, np.array(raw[name].labels), raw["train"].origin, raw[name].origin
            )
        if self.config.positive_class is not None:
            encoded, class_names = _positive_class_second(
                encoded, class_names, self.config.positive_class
            )
        return encoded, class_names

    def _token_ids(self, texts: dict[str, list[str]]) -> dict[str, list[np.ndarray]]:
        """Train (or load) the tokeniser and tokenise each split, through the cache."""
        settings = {"version": CACHE_VERSION, **self.tokenizer_settings}
        tokenizer_key = _fingerprint(settings, texts["train"])
        cache = cache_folder(self.config.cache_dir)
        folder = cache / "text" / tokenizer_key if cache else None
        tokenizer_file = folder / "tokenizer.json" if folder else None
        if tokenizer_file is not None and tokenizer_file.is_file():
            from tokenizers import Tokenizer

            self.tokenizer = Tokenizer.from_file(str(tokenizer_file))
        else:
            self.tokenizer = tokenize.train_tokenizer(texts["train"], **self.tokenizer_settings)
            if tokenizer_file is not None:
                assert folder is not None  # tokenizer_file lies in it
                folder.mkdir(parents=True, exist_ok=True)
                write_text_atomic(tokenizer_file, self.tokenizer.to_str())
        keys = {
            name: _fingerprint({"tokenizer": tokenizer_key}, rows) for name, rows in texts.items()
        }
        arrow_files = {
            name: folder / f"{name}-{key}.arrow" if folder else None for name, key in keys.items()
        }
        self.cache_hit = all(f is not None and f.is_file() for f in arrow_files.values())
        log.info(
            "token ids %s %s",
            "read from the cache in" if self.cache_hit else "computed",
            folder or "(no cache: data.cache_dir is null)",
        )
        ids = {
            name: _tokenised(rows, self.tokenizer, keys[name], arrow_files[name])
            for name, rows in texts.items()
        }
        for name, rows in ids.items():
            empty = [i for i, row in enumerate(rows) if len(row) == 0]
            if empty:
                # text with no token left (only characters the normaliser removes): one unknown
                # token keeps the row, so no label is silently lost
                log.warning("%s: %d text(s) gave no tokens; each is one [UNK]", name, len(empty))
                for i in empty:
                    rows[i] = np.array([tokenize.UNK_ID], dtype=np.int64)
        return ids


def _tokenised(
    texts: list[str], tokenizer, fingerprint: str, arrow_file: Path | None
) -> list[np.ndarray]:
    """Token ids per text; with a cache file, `datasets` reads it back instead of tokenising."""
    import datasets
    import pyarrow.compute as pc

    datasets.disable_progress_bars()
    dataset = datasets.Dataset.from_dict({"text": texts})
    mapped = dataset.map(
        lambda batch: {"input_ids": tokenize.encode(tokenizer, batch["text"])},
        batched=True,
        batch_size=1000,
        remove_columns=["text"],
        cache_file_name=str(arrow_file) if arrow_file else None,
        load_from_cache_file=True,
        new_fingerprint=fingerprint,
    )
    column = mapped.data.column("input_ids").combine_chunks()
    values = column.flatten().to_numpy(zero_copy_only=False).astype(np.int64)
    lengths = pc.list_value_length(column).to_numpy(zero_copy_only=False).astype(np.int64)
    return np.split(values, np.cumsum(lengths)[:-1])


def _fingerprint(settings: dict, texts: list[str]) -> str:
    digest = hashlib.sha256(json.dumps(settings, sort_keys=True).encode())
    for text in texts:
        digest.update(text.encode("utf-8", errors="surrogatepass"))
        digest.update(b"\x00")
    return digest.hexdigest()[:16]


def _keep_top_classes(raw: dict[str, RawText], count: int) -> dict[str, RawText]:
    """Keep the `count` most frequent training classes (ties by name); drop the other rows of
    every split, counted in the log."""
    if count < 2:
        raise SeqlabError(f"data.top_classes={count}: a classifier needs at least 2 classes")
    labels, frequencies = np.unique(np.array(raw["train"].labels), return_counts=True)
    ranked = sorted(zip(labels.tolist(), frequencies.tolist(), strict=True), key=lambda x: -x[1])
    kept = {label for label, _ in ranked[:count]}
    for name, part in raw.items():
        keep = [i for i, label in enumerate(part.labels) if label in kept]
        if len(keep) < len(part.labels):
            log.info(
                "%s: dropped %d row(s) outside the %d most frequent classes",
                part.origin,
                len(part.labels) - len(keep),
                count,
            )
        raw[name] = part.subset(keep)
    return raw


def _positive_class_second(
    encoded: dict[str, np.ndarray], class_names: tuple[str, ...], positive: str
) -> tuple[dict[str, np.ndarray], tuple[str, ...]]:
    """Binary metrics score class index 1; put the named positive class there."""
    if len(class_names) != 2 or positive not in class_names:
        raise SeqlabError(
            f"data.positive_class={positive!r} needs two classes including it; the data has "
            f"{list(class_names)}"
        )
    if class_names[1] == positive:
        return encoded, class_names
    return {name: 1 - labels for name, labels in encoded.items()}, class_names[::-1]
