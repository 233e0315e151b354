"""Options of `data=events` (and `cdnow`, `yoochoose`): customer event logs."""

from dataclasses import dataclass, field
from enum import StrEnum

from seqlab.errors import require, require_path_part


class EventFormat(StrEnum):
    auto = "auto"  # from the file suffix: .csv, .tsv/.tab, .parquet, otherwise whitespace
    csv = "csv"
    tsv = "tsv"
    whitespace = "whitespace"
    parquet = "parquet"


class DuplicatePolicy(StrEnum):
    error = "error"  # stop and name the first duplicate row
    drop = "drop"  # keep the first of identical rows, log how many were dropped
    keep = "keep"  # identical rows are separate events (e.g. two equal purchases); log the count


class NumericTransform(StrEnum):
    log1p = "log1p"  # sign(x) * log(1 + |x|) before scaling: amounts and counts are skewed
    none = "none"


class TimeFeature(StrEnum):
    gap = "gap"  # time since the entity's previous event (0 for its first)
    age = "age"  # time from the event to the cutoff: how long ago, seen from the prediction
    since_first = "since_first"  # time since the entity's first event (task=tag: no cutoff)


@dataclass
class EventColumnsConfig:
    entity: str = "customer_id"  # customer or session id: one sequence each
    time: str = "date"  # the timestamp column
    categorical: list[str] = field(default_factory=list)  # embedded; rare values share one id
    numeric: list[str] = field(
        default_factory=lambda: ["number_of_cds", "dollar_value"]
    )  # scaled on the training part only


@dataclass
class CutoffConfig:
    """Where history ends and the label window begins; set exactly one of the two."""

    time: str | None = "1997-10-01"  # one date for every entity
    events: int | None = None  # each entity's first N events are its history

    def __post_init__(self) -> None:
        require(
            (self.time is None) != (self.events is None),
            "data.cutoff",
            {"time": self.time, "events": self.events},
            "needs exactly one of time (a date for every entity) or events (each entity's first "
            "k events); set the other to null",
        )
        if self.events is not None:
            require(self.events >= 1, "data.cutoff.events", self.events, "must be at least 1")


@dataclass
class TimeRangeConfig:
    """Timestamps outside this range are refused as typos (30000101 for 20000101), which would
    otherwise land in the history or the label window."""

    earliest: str = "1900-01-01"  # the first timestamp accepted
    latest: str = "2100-01-01"  # the last timestamp accepted


@dataclass
class EventLabelConfig:
    # Positive when the entity has at least this many events after the cutoff (in the window).
    min_events: int = 1
    window: str | None = "273D"  # pandas Timedelta after the cutoff; null: up to the log's end

    def __post_init__(self) -> None:
        require(self.min_events >= 1, "data.label.min_events", self.min_events, "must be >= 1")


@dataclass
class StepLabelConfig:
    """task=tag: the label of each event, from the entity's later events (strictly later in
    time). The cutoff and label sections are not used; every event is a prediction point."""

    min_events: int = 1  # positive: at least this many later events ...
    horizon: str | None = "90D"  # ... within this span after the event; null: any time later
    # End of observation; null: the log's last timestamp. An event whose horizon reaches past
    # it has no known answer: its step is masked (censored), never labelled negative.
    observed_until: str | None = None

    def __post_init__(self) -> None:
        require(self.min_events >= 1, "data.step_label.min_events", self.min_events, "must be >= 1")


@dataclass
class EventsDataConfig:
    kind: str = "events"  # the data kind (seqlab.data.registry)
    name: str = "cdnow"  # a name for the dataset (run names, W&B, reports)
    path: str | None = None  # null: CDNOW_master.txt from the lifetimes wheel
    format: EventFormat = EventFormat.auto  # how the event log is read
    columns: EventColumnsConfig = field(default_factory=EventColumnsConfig)
    time_format: str = "%Y%m%d"  # auto | unix (seconds) | a strftime format
    time_unit: str = "D"  # unit of gap/age before log1p: s, min, h, D
    time_range: TimeRangeConfig = field(default_factory=TimeRangeConfig)
    duplicates: DuplicatePolicy = DuplicatePolicy.drop  # what identical rows do
    cutoff: CutoffConfig = field(default_factory=CutoffConfig)
    label: EventLabelConfig = field(default_factory=EventLabelConfig)
    step_label: StepLabelConfig = field(default_factory=StepLabelConfig)
    max_length: int = 50  # keep each entity's most recent N history events
    min_count: int = 2  # categorical values seen fewer times in training are "rare"
    numeric_transform: NumericTransform = (
        NumericTransform.log1p
    )  # applied to numeric columns and time features before scaling
    time_features: list[TimeFeature] = field(
        default_factory=lambda: [TimeFeature.gap, TimeFeature.age]
    )
    top_categories: int = 10  # baselines: counts of the K most frequent values per column
    val_fraction: float = 0.15  # entities, stratified by label; no entity is in two splits
    test_fraction: float = 0.15  # entities held out for the test, stratified by label
    batch_size: int = 256  # entities per batch
    num_workers: int = 0  # DataLoader worker processes; 0: batches cut in memory, no DataLoader
    split_seed: int = 0  # the entity split; the YAML ties it to ${seed}

    def __post_init__(self) -> None:
        require(self.batch_size >= 1, "data.batch_size", self.batch_size, "must be at least 1")
        require(self.max_length >= 1, "data.max_length", self.max_length, "must be at least 1")
        require_path_part("data.name", self.name)
