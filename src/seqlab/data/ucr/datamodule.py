"""UCR/UEA time-series classification (`data=ucr`).

How TRAIN is used follows `data.protocol` (config.py): a stratified validation part carved from
it (val_split), all of it with no validation part (train_loss, and the refit of cv_epochs), or one
fold of a stratified k-fold as the validation part (the fold fits of cv_epochs, `fold(i)`).
Per-channel normalisation is fitted on the training part alone and applied to every split; TEST
labels are only checked for classes never seen in TRAIN, and its series are used only by the
final test.
"""

from pathlib import Path
from typing import Any

import numpy as np
import torch
from sklearn.model_selection import StratifiedKFold
from sklearn.preprocessing import StandardScaler

from seqlab.data.base import SequenceDataModule
from seqlab.data.batch import SequenceDataset
from seqlab.data.embedded import embedded_path
from seqlab.data.meta import DataMeta
from seqlab.data.padding import pad_sequences
from seqlab.data.scaler import scaler_state
from seqlab.data.splits import encode_labels, stratified_split
from seqlab.data.ucr.config import Protocol, UCRDataConfig
from seqlab.data.ucr.files import RawSeries, format_of, read_series_file
from seqlab.errors import SeqlabError

EMBEDDED_PACKAGE = "sktime"
EMBEDDED_VERSION = "1.2.0"


class UCRDataModule(SequenceDataModule):
    def __init__(self, config: UCRDataConfig, fold_index: int | None = None):
        super().__init__(batch_size=config.batch_size, num_workers=config.num_workers)
        self.config = config
        self.fold_index = fold_index  # cv_epochs: this fold of TRAIN is the validation part
        self._protocol: Protocol | None = None
        self._fitted: dict[str, Any] = {}

    @property
    def protocol(self) -> str:
        if self._protocol is None:
            raise RuntimeError("call setup() before reading the protocol")
        return str(self._protocol)

    def fold(self, index: int) -> "UCRDataModule":
        return UCRDataModule(self.config, fold_index=index)

    def build_splits(self) -> tuple[dict[str, SequenceDataset], DataMeta]:
        train_path, test_path = self.locate_files()
        train = read_series_file(train_path, format_of(train_path, self.config.format))
        test = read_series_file(test_path, format_of(test_path, self.config.format))
        _check_channels(train, test)
        if not self.config.variable_length:
            _check_lengths(train, test)
        train_y, test_y, class_names = encode_labels(
            train.labels, test.labels, train.path, test.path
        )
        fit_rows, val_rows = self._split_rows(train_y, class_names)
        parts = {"train": ([train.series[i] for i in fit_rows], train_y[fit_rows])}
        if val_rows is not None:
            parts["val"] = ([train.series[i] for i in val_rows], train_y[val_rows])
        parts["test"] = (test.series, test_y)
        if len(fit_rows) <= self.config.full_batch_up_to:
            self.batch_size = max(self.batch_size, len(fit_rows))  # the whole part, one batch
        train_lengths = {len(s) for s in parts["train"][0]}
        self._fitted = {
            "scaler": None,
            # an MLP that flattens its input takes only the one length it was trained on
            "length": train_lengths.pop() if len(train_lengths) == 1 else None,
        }
        if self.config.normalize == "channel":
            scaler = StandardScaler().fit(np.concatenate(parts["train"][0]))
            self._fitted["scaler"] = scaler_state(scaler)
            parts = {
                split: ([scaler.transform(s).astype(np.float32) for s in series], labels)
                for split, (series, labels) in parts.items()
            }

        max_length = max(len(s) for series, _ in parts.values() for s in series)
        splits = {}
        for split, (series, labels) in parts.items():
            inputs, lengths = pad_sequences(series, max_length)
            splits[split] = SequenceDataset(inputs, None, lengths, torch.from_numpy(labels))
        meta = DataMeta(
            num_features=train.series[0].shape[1],
            num_classes=len(class_names),
            class_names=class_names,
            max_length=max_length,
        )
        return splits, meta

    def _split_rows(
        self, labels: np.ndarray, names: tuple[str, ...]
    ) -> tuple[np.ndarray, np.ndarray | None]:
        """TRAIN rows to train on, and those to validate on (None: no validation part)."""
        self._protocol = self.config.resolved_protocol(len(labels))
        if self.fold_index is not None:
            return _fold_rows(labels, self.config.cv_folds, self.config.split_seed, self.fold_index)
        if self._protocol == Protocol.val_split:
            return stratified_split(
                labels,
                self.config.val_fraction,
                self.config.split_seed,
                "data.val_fraction",
                names=names,
            )
        return np.arange(len(labels)), None

    def fitted_state(self) -> dict[str, Any]:
        return self._fitted

    def locate_files(self) -> tuple[Path, Path]:
        if self.config.root is None:
            folder = _embedded_folder(self.config.name)
            candidates = [
                (folder / f"{self.config.name}_TRAIN.ts", folder / f"{self.config.name}_TEST.ts")
            ]
        else:
            root = Path(self.config.root).expanduser()
            candidates = [
                (
                    folder / f"{self.config.name}_TRAIN{suffix}",
                    folder / f"{self.config.name}_TEST{suffix}",
                )
                for folder in (root, root / self.config.name)
                for suffix in (".ts", "", ".txt", ".tsv")
            ]
        for train_path, test_path in candidates:
            if train_path.is_file():
                if not test_path.is_file():
                    raise SeqlabError(
                        f"{test_path}: file not found (its TRAIN file exists); "
                        "UCR data needs both files"
                    )
                return train_path, test_path
        looked = ", ".join(str(p) for p, _ in candidates[:3])
        raise SeqlabError(
            f"no TRAIN file for UCR dataset {self.config.name!r} (looked for {looked}, "
            "...); fix data.name or point data.root at the folder that holds it"
        )


def _embedded_folder(name: str) -> Path:
    folder = embedded_path(
        EMBEDDED_PACKAGE,
        EMBEDDED_VERSION,
        f"sktime/datasets/data/{name}",
        "set data.root to a folder of UCR files",
    )
    if not folder.is_dir():
        available = sorted(
            p.name for p in folder.parent.iterdir() if (p / f"{p.name}_TRAIN.ts").is_file()
        )
        raise SeqlabError(
            f"UCR dataset {name!r} is not among the embedded ones ({', '.join(available)}); "
            "fix data.name or set data.root to a folder of UCR files"
        )
    return folder


def _fold_rows(
    labels: np.ndarray, folds: int, seed: int, index: int
) -> tuple[np.ndarray, np.ndarray]:
    smallest = int(np.bincount(labels).min())
    if folds > len(labels) or smallest < 2:
        raise SeqlabError(
            f"data.cv_folds={folds} cannot split {len(labels)} TRAIN series whose smallest "
            f"class has {smallest}; lower data.cv_folds or use data.protocol=train_loss"
        )
    # a class smaller than the fold count is spread over fewer folds (sklearn warns, rightly)
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    keep, held_out = list(splitter.split(np.zeros(len(labels)), labels))[index]
    return keep, held_out


def _check_channels(train: RawSeries, test: RawSeries) -> None:
    channels = {s.shape[1] for s in train.series} | {s.shape[1] for s in test.series}
    if len(channels) != 1:
        raise SeqlabError(
            f"{train.path}, {test.path}: series have different channel counts "
            f"{sorted(channels)}; every series needs the same dimensions"
        )


def _check_lengths(train: RawSeries, test: RawSeries) -> None:
    """A model trained on series of one length reads TEST series of another length only as
    zero-padded or cut copies, which silently changes what it sees."""
    lengths = {len(s) for s in train.series}
    if len(lengths) != 1:
        return  # the training data itself varies in length
    (length,) = lengths
    for number, series in enumerate(test.series, start=1):
        if len(series) != length:
            raise SeqlabError(
                f"{test.path}: series {number} has length {len(series)} where every TRAIN series "
                f"has length {length} ({train.path}); fix the file, or set "
                "data.variable_length=true to zero-pad them for a recurrent model"
            )
