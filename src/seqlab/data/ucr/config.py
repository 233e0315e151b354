"""Options of `data=ucr`: UCR/UEA time-series classification files."""

from dataclasses import dataclass
from enum import StrEnum

from seqlab.errors import require, require_path_part


class Normalize(StrEnum):
    channel = "channel"  # one mean/std per input channel, fitted on the training part
    none = "none"


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
    val_fraction: float = 0.2  # stratified validation part carved from TRAIN
    normalize: Normalize = Normalize.channel  # per-channel scaling fitted on the training part
    # Accept TEST series whose length differs from the one length of every TRAIN series (they
    # are zero-padded; recurrent models only). TRAIN files of varying length always accept it.
    variable_length: bool = False
    batch_size: int = 16  # samples per batch
    num_workers: int = 0  # DataLoader worker processes; 0: batches cut in memory, no DataLoader
    split_seed: int = 0  # the validation split; the YAML ties it to ${seed}

    def __post_init__(self) -> None:
        require(self.batch_size >= 1, "data.batch_size", self.batch_size, "must be at least 1")
        require_path_part("data.name", self.name)
