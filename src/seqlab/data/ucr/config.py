"""Options of `data=ucr`: UCR/UEA time-series classification files."""

from dataclasses import dataclass
from enum import StrEnum

from seqlab.errors import require, require_path_part


class Normalize(StrEnum):
    channel = "channel"  # one mean/std per input channel, fitted on the training part
    none = "none"


class Protocol(StrEnum):
    # val_split from tiny_threshold TRAIN series on, TINY_PROTOCOL below (docs/ucr-benchmark.md)
    auto = "auto"
    val_split = "val_split"  # hold out data.val_fraction of TRAIN; the best epoch on it is tested
    # k-fold CV on TRAIN picks the number of epochs (only that), then a refit on all of TRAIN
    cv_epochs = "cv_epochs"
    train_loss = "train_loss"  # all of TRAIN; the epoch with the lowest training loss is tested


# `protocol=auto` on fewer TRAIN series than tiny_threshold. On the four tiny development sets
# it matched cv_epochs in mean test accuracy at a sixth of the training (docs/ucr-benchmark.md).
TINY_PROTOCOL = Protocol.train_loss


class SeriesFormat(StrEnum):
    auto = "auto"  # .ts by suffix, anything else UCR 2015 text
    ts = "ts"
    ucr2015 = "ucr2015"


@dataclass
class UCRDataConfig:
    kind: str = "ucr"  # the data kind (seqlab.data.registry)
    name: str = "GunPoint"  # <name>_TRAIN / <name>_TEST
    root: str | None = None  # folder of UCR files; null: the .ts files in the sktime wheel
    format: SeriesFormat = SeriesFormat.auto  # file format of TRAIN and TEST
    # How TRAIN is used to pick the tested model; auto: val_split on large TRAIN files, a
    # protocol without a validation carve-out on tiny ones (below tiny_threshold series)
    protocol: Protocol = Protocol.auto
    tiny_threshold: int = 250  # protocol=auto: fewer TRAIN series than this count as tiny
    cv_folds: int = 5  # protocol=cv_epochs: stratified folds of TRAIN
    val_fraction: float = 0.2  # stratified validation part carved from TRAIN
    normalize: Normalize = Normalize.channel  # per-channel scaling fitted on the training part
    # Accept TEST series whose length differs from the one length of every TRAIN series (they
    # are zero-padded; recurrent models only). TRAIN files of varying length always accept it.
    variable_length: bool = False
    batch_size: int = 16  # samples per batch
    # A training part of at most this many series is one batch (0: never); larger ones are
    # cut into batch_size. LSTM-FCN's published batch 128 makes the smallest sets one batch.
    full_batch_up_to: int = 0
    num_workers: int = 0  # DataLoader worker processes; 0: batches cut in memory, no DataLoader
    split_seed: int = 0  # the validation split; the YAML ties it to ${seed}

    def __post_init__(self) -> None:
        require(self.batch_size >= 1, "data.batch_size", self.batch_size, "must be at least 1")
        require(
            self.full_batch_up_to >= 0,
            "data.full_batch_up_to",
            self.full_batch_up_to,
            "must be 0 (never one batch) or more",
        )
        require_path_part("data.name", self.name)
        require(
            self.tiny_threshold >= 0, "data.tiny_threshold", self.tiny_threshold, "must be >= 0"
        )
        require(self.cv_folds >= 2, "data.cv_folds", self.cv_folds, "must be at least 2")

    def resolved_protocol(self, train_series: int) -> Protocol:
        """The protocol that runs on a TRAIN file of this many series."""
        if self.protocol != Protocol.auto:
            return self.protocol
        return Protocol.val_split if train_series >= self.tiny_threshold else TINY_PROTOCOL
