"""The shape of every composed config, checked before anything heavy is imported.

Each option is declared once, in a dataclass: its type, its default and a comment that says what
it does (`make config-docs` turns them into docs/config.md). The YAML files under conf/ repeat
the values users want to see and change; a test keeps them equal to these defaults. Data and
model groups come in several kinds, each with its own dataclass, picked by the group's `kind`
key through the registries (seqlab.data.registry, seqlab.models.registry).

A typo or a wrong type stops the run in well under a second with one line that names the key.
"""

from dataclasses import dataclass, field, fields
from enum import StrEnum
from typing import TYPE_CHECKING, Any, TypeVar, cast

from omegaconf import MISSING, DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from seqlab.data.input_config import ReaderConfig
from seqlab.data.registry import DATA_KINDS
from seqlab.data.ucr.config import UCRDataConfig
from seqlab.errors import SeqlabError, require, require_path_part
from seqlab.models.config import MLPConfig, MLPInput, RecurrentFCNConfig, RecurrentInput
from seqlab.models.registry import MODEL_KINDS
from seqlab.models.tasks import TASKS, TaskName
from seqlab.schema import first_line, merge_schema

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

Schema = TypeVar("Schema", bound="DataclassInstance")


class Optimizer(StrEnum):
    adam = "adam"
    adamw = "adamw"
    sgd = "sgd"
    adadelta = "adadelta"


class Scheduler(StrEnum):
    none = "none"
    cosine = "cosine"  # to zero over max_epochs
    plateau = "plateau"  # halve the rate when val/loss stalls for 10 epochs


@dataclass
class OptimConfig:
    name: Optimizer = Optimizer.adamw  # the torch optimiser
    lr: float = 0.001  # learning rate
    weight_decay: float = 0.0  # L2 penalty (decoupled for adamw)
    momentum: float = 0.9  # SGD only
    scheduler: Scheduler = Scheduler.cosine  # learning-rate schedule over the epochs
    class_weights: list[float] | None = None  # one per class; null: unweighted cross-entropy

    def __post_init__(self) -> None:
        require(self.lr > 0, "optim.lr", self.lr, "must be positive")


class Average(StrEnum):
    macro = "macro"
    micro = "micro"
    weighted = "weighted"
    binary = "binary"  # positive class (index 1) only; two-class data


@dataclass
class TaskConfig:
    """The shape of what a run predicts (conf/task/)."""

    # classify: a class per sequence; tag: one per step; generate: the steps after the history
    name: TaskName = TaskName.classify
    # tag: each step's prediction reads only that step and earlier ones, so the model can run
    # online (refused with a bidirectional encoder); classify ignores it.
    causal: bool = True
    # generate: sampled futures per entity at test time (averaged into its expected count)
    samples: int = 100
    temperature: float = 1.0  # generate: softmax temperature of each sampled step
    greedy: bool = False  # generate: the likeliest value each step instead of sampling
    # generate: teacher forcing also trains on the validation and test entities' conditioning
    # weeks (never on their generated weeks, which val/loss and test/loss then score alone)
    train_histories: bool = False

    def __post_init__(self) -> None:
        require(self.samples >= 1, "task.samples", self.samples, "must be at least 1")
        require(self.temperature > 0, "task.temperature", self.temperature, "must be positive")


@dataclass
class MetricsConfig:
    average: Average = Average.macro  # how precision, recall and F1 combine the classes


WANDB_PROJECT_FORBIDDEN = "/\\#?%:"


class OnUnreachable(StrEnum):
    offline = "offline"  # log offline into the run dir and say how to sync it
    error = "error"  # stop with one line


@dataclass
class WandbConfig:
    enabled: bool = True  # log to Weights & Biases
    offline: bool = True  # files in the run dir, `wandb sync` uploads them later
    project: str = "seqlab"  # W&B project
    entity: str | None = None  # W&B user or team; null: the logged-in default
    group: str | None = None  # the YAML sets the experiment's (or the sweep's) name
    job_type: str = "train"  # W&B job type (train, eval, baseline, compare)
    tags: list[str] = field(default_factory=list)  # W&B tags
    # best | all | false: the best checkpoint (all: and last.ckpt) as a W&B model artifact,
    # with the test metrics and the resolved config as its metadata
    log_model: str = "best"
    log_code: bool = True  # src/ and conf/ as the run's code artifact
    # rows of the test-time prediction table (misclassified first; also
    # plots/predictions_test.csv); 0: none
    prediction_rows: int = 500
    # With offline=false: what a run does when a short probe cannot reach the W&B server.
    on_unreachable: OnUnreachable = OnUnreachable.offline

    def __post_init__(self) -> None:
        check_wandb_project("logger.wandb.project", self.project)


def check_wandb_project(key: str, project: str) -> None:
    """W&B's own rule for a project name, which it enforces only once a run starts."""
    require(0 < len(project) <= 128, key, project, "must have 1 to 128 characters")
    require(
        not set(project) & set(WANDB_PROJECT_FORBIDDEN),
        key,
        project,
        f"cannot hold any of {WANDB_PROJECT_FORBIDDEN}",
    )


@dataclass
class LoggerConfig:
    wandb: WandbConfig = field(default_factory=WandbConfig)
    csv: bool = True  # <run dir>/csv/metrics.csv


class MonitorMode(StrEnum):
    max = "max"
    min = "min"


@dataclass
class CheckpointConfig:
    monitor: str = "val/f1"  # the best checkpoint by this metric is tested after fit
    mode: MonitorMode = MonitorMode.max  # whether a higher or lower monitor value is better
    # Among epochs tied on the monitor (small validation sets saturate at F1 = 1.0), keep the
    # one with the lowest value of this metric; null keeps the first.
    tie_breaker: str | None = "val/loss"
    save_last: bool = True  # checkpoints/last.ckpt, for resuming (see last_every_s)
    # Write last.ckpt (and a new best checkpoint, kept in memory until then) at the first epoch
    # end this many seconds after the previous write, and always at the end of fit; 0: after
    # every epoch. A crash loses at most this much training.
    last_every_s: float = 30.0

    def __post_init__(self) -> None:
        key = "callbacks.checkpoint.last_every_s"
        require(self.last_every_s >= 0, key, self.last_every_s, "must be 0 (every epoch) or more")


@dataclass
class EarlyStoppingConfig:
    # Stop when the monitored metric (callbacks.checkpoint.monitor) stops improving, so that
    # any data x model pair ends in reasonable time; conf/fit/<data>.yaml sets each patience.
    enabled: bool = True
    patience: int = 10  # validation epochs without improvement of the monitored metric


MIN_MEDIAN_WINDOW = 5  # global norms needed before a jump can be judged against their median


@dataclass
class GradientsConfig:
    enabled: bool = True  # recurrent models only; an MLP says so once and skips
    every_n_steps: int = 100  # log norms and ||dL/dh_t|| every this many optimizer steps
    hidden_states: bool = True  # ||dL/dh_t|| (a step-by-step forward on logged steps)
    jump_factor: float = 10.0  # warn when the global norm exceeds this x its running median
    median_window: int = 50  # steps in that running median
    min_norm: float = 1.0  # norms below this never count as exploding
    plots: bool = True  # PNGs in <run dir>/gradients/ at the end of training

    def __post_init__(self) -> None:
        prefix = "callbacks.gradients."
        require(self.every_n_steps >= 1, prefix + "every_n_steps", self.every_n_steps, ">= 1")
        require(self.jump_factor > 1, prefix + "jump_factor", self.jump_factor, "must exceed 1")
        window, least = self.median_window, MIN_MEDIAN_WINDOW
        require(window >= least, prefix + "median_window", window, f"must be {least} or more")


@dataclass
class CallbacksConfig:
    checkpoint: CheckpointConfig = field(default_factory=CheckpointConfig)
    early_stopping: EarlyStoppingConfig = field(default_factory=EarlyStoppingConfig)
    progress_bar: bool = True  # a rich progress bar with the epoch's metrics
    gradients: GradientsConfig = field(default_factory=GradientsConfig)
    # More Lightning callbacks, by name: each a node with a `_target_` (a Callback class) and
    # its arguments, built with hydra.utils.instantiate, e.g.
    # +callbacks.extra.lr._target_=lightning.pytorch.callbacks.LearningRateMonitor
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class EnsembleConfig:
    # Train one model per seed (one after another, each in <run dir>/members/seed<seed>/) and
    # report the ensemble of their averaged probabilities; empty: a single model of `seed`
    seeds: list[int] = field(default_factory=list)


@dataclass
class PathsConfig:
    root_dir: str = "."  # the YAML reads $PROJECT_ROOT
    output_dir: str = "outputs"  # the YAML sets Hydra's run dir


@dataclass
class TrainConfig:
    task_name: str = "train"  # outputs/<task_name>/...
    experiment_name: str = "default"  # W&B group; experiment files set it
    seed: int = 42  # model initialisation, shuffling, and the data split (data.split_seed)
    data: Any = None  # one of the data kinds (seqlab.data.registry)
    model: Any = None  # one of the model kinds (seqlab.models.registry)
    task: TaskConfig = field(default_factory=TaskConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    metrics: MetricsConfig = field(default_factory=MetricsConfig)
    trainer: dict[str, Any] = field(default_factory=dict)  # lightning.Trainer arguments
    logger: LoggerConfig = field(default_factory=LoggerConfig)
    callbacks: CallbacksConfig = field(default_factory=CallbacksConfig)
    ensemble: EnsembleConfig = field(default_factory=EnsembleConfig)
    paths: PathsConfig = field(default_factory=PathsConfig)
    print_config: bool = True  # the composed config as a tree at the start
    print_parameters: bool = True  # the exact table of trainable parameters per layer
    ckpt_path: str | None = None  # a file, or "last": the newest earlier run's last.ckpt
    resume: str | None = None  # "auto" (= ckpt_path=last) or an earlier run dir


class EvalSplit(StrEnum):
    test = "test"
    val = "val"


@dataclass
class LocalDataConfig:
    """Where a checkpoint's data lives on the machine that evaluates or predicts: the folders of
    its training run are not carried over (another machine, another working folder)."""

    root: str | None = None  # the folder of the data files; null: the checkpoint's data.root
    cache_dir: str | None = "auto"  # auto: $XDG_CACHE_HOME/seqlab; a folder; null: no cache

    def apply(self, data: dict[str, Any]) -> dict[str, Any]:
        """The checkpoint's data section with these folders (for kinds that have them)."""
        local = dict(data)
        if "cache_dir" in local or data.get("kind") == "text":
            local["cache_dir"] = self.cache_dir
        if self.root is not None:
            local["root"] = self.root
        return local


@dataclass
class EvalConfig:
    task_name: str = "eval"
    experiment_name: str = "default"  # W&B group; name the training run's experiment
    seed: int = 42  # model initialisation, shuffling, and the data split (data.split_seed)
    ckpt_path: str = MISSING  # required: a checkpoint written by seqlab-train
    split: EvalSplit = EvalSplit.test  # the split of the checkpoint's data to evaluate
    # A labelled file to evaluate instead of a split, read with the checkpoint's fitted
    # preprocessing (no training file needed); the formats of seqlab-predict
    input: str | None = None
    reader: ReaderConfig = field(default_factory=ReaderConfig)
    data: LocalDataConfig = field(default_factory=LocalDataConfig)
    trainer: dict[str, Any] = field(default_factory=dict)
    logger: LoggerConfig = field(default_factory=LoggerConfig)
    paths: PathsConfig = field(default_factory=PathsConfig)


class OutputFormat(StrEnum):
    csv = "csv"
    parquet = "parquet"


@dataclass
class PredictOutputConfig:
    format: OutputFormat = OutputFormat.csv  # predictions.csv or predictions.parquet
    # 0: a probability column per class; k: the k likeliest classes and their probabilities
    top_k: int = 0

    def __post_init__(self) -> None:
        require(self.top_k >= 0, "output.top_k", self.top_k, "must be 0 (every class) or more")


@dataclass
class PredictConfig:
    task_name: str = "predict"
    seed: int = 42  # fixes anything random in the forward pass (none in eval mode)
    ckpt_path: str = MISSING  # required: a checkpoint written by seqlab-train
    input: str = MISSING  # required: a file in a format of the checkpoint's data, or - (stdin)
    reader: ReaderConfig = field(default_factory=ReaderConfig)
    data: LocalDataConfig = field(default_factory=LocalDataConfig)
    batch_size: int | None = None  # inputs per batch; null: the checkpoint's data.batch_size
    output: PredictOutputConfig = field(default_factory=PredictOutputConfig)
    trainer: dict[str, Any] = field(default_factory=dict)  # lightning.Trainer arguments
    paths: PathsConfig = field(default_factory=PathsConfig)


class GenerateSplit(StrEnum):
    test = "test"
    val = "val"
    train = "train"


@dataclass
class GenerateConfig:
    task_name: str = "generate"
    seed: int = 42  # the sampling stream: the same seed gives the same samples
    ckpt_path: str = MISSING  # required: a checkpoint of a task=generate run
    n: int = 100  # events: sampled futures per entity; text: messages, split evenly by class
    split: GenerateSplit = GenerateSplit.test  # whose histories condition the samples
    temperature: float = 1.0  # softmax temperature of each sampled step
    greedy: bool = False  # the likeliest value each step (n identical futures)
    # text: a task=classify checkpoint of the same classes (experiment=sms_spam_gru) that
    # judges every message: judged.json (share assigned to the conditioned class)
    classifier: str | None = None
    paths: PathsConfig = field(default_factory=PathsConfig)

    def __post_init__(self) -> None:
        require(self.n >= 1, "n", self.n, "must be at least 1")
        require(self.temperature > 0, "temperature", self.temperature, "must be positive")


class ExportFormat(StrEnum):
    onnx = "onnx"  # model.onnx, run with onnxruntime
    torchscript = "torchscript"  # model.pt, run with torch.jit.load
    ckpt = "ckpt"  # the checkpoint again, with the fitted preprocessing of its training data


@dataclass
class ExportConfig:
    task_name: str = "export"
    ckpt_path: str = MISSING  # required: a checkpoint written by seqlab-train
    format: ExportFormat = ExportFormat.onnx  # what to write into the run dir
    opset: int = 17  # ONNX operator set
    paths: PathsConfig = field(default_factory=PathsConfig)


class Baseline(StrEnum):
    logreg = "logreg"  # logistic regression on log-scaled, standardised aggregates
    tree = "tree"  # a single decision tree
    gboost = "gboost"  # histogram gradient boosting


@dataclass
class LogRegOptions:
    C: float = 1.0
    max_iter: int = 2000


@dataclass
class TreeOptions:
    max_depth: int = 6
    min_samples_leaf: int = 50


@dataclass
class GBoostOptions:
    max_iter: int = 200
    learning_rate: float = 0.05
    max_leaf_nodes: int = 15
    min_samples_leaf: int = 50


@dataclass
class BaselineModelsConfig:
    models: list[Baseline] = field(
        default_factory=lambda: [Baseline.logreg, Baseline.tree, Baseline.gboost]
    )
    logreg: LogRegOptions = field(default_factory=LogRegOptions)
    tree: TreeOptions = field(default_factory=TreeOptions)
    gboost: GBoostOptions = field(default_factory=GBoostOptions)


@dataclass
class BaselinesConfig:
    task_name: str = "baselines"
    experiment_name: str = "default"
    seed: int = 42  # model initialisation, shuffling, and the data split (data.split_seed)
    data: Any = None  # event data (data=cdnow, yoochoose or events)
    task: TaskConfig = field(default_factory=TaskConfig)  # tag: one row per labelled step
    baselines: BaselineModelsConfig = field(default_factory=BaselineModelsConfig)
    metrics: MetricsConfig = field(default_factory=MetricsConfig)
    logger: LoggerConfig = field(default_factory=LoggerConfig)
    paths: PathsConfig = field(default_factory=PathsConfig)
    print_config: bool = False


@dataclass
class CompareConfig:
    task_name: str = "compare"
    experiment_name: str = "compare"  # W&B group of every run of the comparison
    seed: int = 0  # only resolves data.split_seed; each run uses one of `seeds`
    seeds: list[int] = field(default_factory=lambda: [1, 2, 3])
    models: list[str] = field(default_factory=lambda: ["mlp", "rnn", "lstm", "gru"])  # conf/model/
    baselines: list[Baseline] = field(
        default_factory=lambda: [Baseline.logreg, Baseline.tree, Baseline.gboost]
    )
    train: dict[str, Any] = field(default_factory=dict)  # merged into every network's config
    data: Any = None
    task: TaskConfig = field(default_factory=TaskConfig)  # every network's and baseline's
    metrics: MetricsConfig = field(default_factory=MetricsConfig)
    logger: LoggerConfig = field(default_factory=LoggerConfig)
    paths: PathsConfig = field(default_factory=PathsConfig)

    def __post_init__(self) -> None:
        require(
            bool(self.models or self.baselines),
            "models and baselines",
            [],
            "are both empty: there is nothing to compare; name a model or a baseline",
        )
        require(bool(self.seeds), "seeds", [], "is empty; give at least one seed")


@dataclass
class DashboardConfig:
    """seqlab-dashboard: the W&B workspace of a project (seqlab.reports.dashboard)."""

    task_name: str = "dashboard"
    project: str = MISSING  # required: the W&B project whose workspace is built
    entity: str | None = None  # W&B user or team; null: the logged-in default
    # a W&B group (an experiment_name or a sweep dir's name): only its runs; null: every run,
    # grouped by experiment
    group: str | None = None
    # the sweep dir whose jobs' .hydra/config.yaml give the swept keys; null: the group's own
    # dir under ${paths.root_dir}/outputs/*/{multiruns,optuna}/, where one exists
    sweep_dir: str | None = None
    # the leaderboard's metric, a test/<metric> or val/<metric>_best (ascending for a loss)
    sort: str = "test/f1"
    name: str | None = None  # the workspace's name; null: "seqlab <project>[ <group>]"
    # true: write the workspace spec to <run dir>/workspace.json without the network;
    # false: save the workspace to W&B (needs W&B online)
    dry_run: bool = False
    paths: PathsConfig = field(default_factory=PathsConfig)

    def __post_init__(self) -> None:
        if self.project != MISSING:  # (validate() stops a missing one first, in one line)
            check_wandb_project("project", self.project)


# Each console script's schema by its config's name (conf/<name>.yaml): the run dir check
# (cli/hydra_callbacks.py) validates with it before Hydra writes anything.
SCHEMAS: dict[str, type] = {
    "train": TrainConfig,
    "eval": EvalConfig,
    "predict": PredictConfig,
    "generate": GenerateConfig,
    "export": ExportConfig,
    "baselines": BaselinesConfig,
    "compare": CompareConfig,
    "dashboard": DashboardConfig,
}


def kind_schemas() -> dict[str, dict[str, type]]:
    """group -> kind -> its options' dataclass, as the registries hold them now."""
    return {
        "data": {name: kind.config for name, kind in DATA_KINDS.items()},
        "model": {name: kind.config for name, kind in MODEL_KINDS.items()},
    }


def validate(cfg: DictConfig, schema: type[Schema]) -> Schema:
    """Check cfg against schema (and its data/model kinds); return it as that dataclass, with
    `data` and `model` as their kinds' dataclasses: what the commands pass on."""
    _refuse_planned_task(cfg)
    _labels_as_word(cfg)
    checked = merge_schema(schema, cfg, prefix="")
    by_kind = {f.name for f in fields(schema) if f.type in (Any, "Any")}  # chosen by `kind`
    for group, schemas in kind_schemas().items():
        if group in checked and group in by_kind:
            checked[group] = _merge_kind(group, checked[group], schemas)
    try:
        # A `???` in the composed config stays required: merging it onto a default keeps the
        # default, so the composed config is asked too.
        missing = sorted(OmegaConf.missing_keys(checked) | OmegaConf.missing_keys(cfg))
    except OmegaConfBaseException as error:
        raise SeqlabError(
            f"config: {first_line(error)} (at {error.full_key}); fix the interpolation"
        ) from None
    if missing:
        raise SeqlabError(
            f"config: no value for {', '.join(missing)}; set it in the config or on the command "
            f"line, e.g. {missing[0]}=..."
        )
    try:
        plain = cast(
            dict[str, Any], OmegaConf.to_container(checked, resolve=True, enum_to_str=True)
        )
    except OmegaConfBaseException as error:
        raise SeqlabError(f"config: {first_line(error)}") from None
    if "callbacks" in plain:
        _check_extra_callbacks(plain["callbacks"]["extra"])
    # Building the dataclasses runs the range checks each declares in __post_init__.
    config = cast(Schema, OmegaConf.to_object(checked))
    _check_values(config)
    return config


def _merge_kind(group: str, node: Any, schemas: dict[str, type]) -> DictConfig:
    if not isinstance(node, DictConfig) or "kind" not in node:
        raise SeqlabError(
            f"config: {group} needs a 'kind' (one of {sorted(schemas)}); pick a "
            f"config from conf/{group}/, e.g. {group}={next(iter(schemas))}"
        )
    kind = node.kind
    if kind not in schemas:
        raise SeqlabError(f"config: {group}.kind={kind!r} is unknown; use one of {sorted(schemas)}")
    return merge_schema(schemas[kind], node, prefix=f"{group}.")


# Lightning's accelerator names (its registry, plus "auto" and "gpu"), spelled out here so that
# the check runs before Lightning is imported.
ACCELERATORS = ("auto", "cpu", "gpu", "cuda", "mps", "tpu")


def _check_values(config: Any) -> None:
    """Checks of options that no seqlab dataclass declares (Lightning's trainer arguments) or
    that span groups; the others sit in their dataclass's __post_init__. Each command's schema
    has its own set of groups, hence the getattr of a group a schema may not declare."""
    for key in ("task_name", "experiment_name"):  # parts of the run and sweep dirs
        require_path_part(key, getattr(config, key, None))
    trainer: dict[str, Any] = getattr(config, "trainer", {})
    callbacks = getattr(config, "callbacks", None)
    stops_early = isinstance(callbacks, CallbacksConfig) and callbacks.early_stopping.enabled
    epochs = trainer.get("max_epochs")  # Lightning's own argument, not a seqlab option
    if epochs is not None:
        whole = isinstance(epochs, int) and not isinstance(epochs, bool)
        require(
            whole and (epochs >= 1 or (epochs == -1 and stops_early)),
            "trainer.max_epochs",
            epochs,
            "must be a whole number of epochs, at least 1 (-1: no limit, only with early "
            "stopping, callbacks.early_stopping.enabled=true)",
        )
    accelerator = trainer.get("accelerator")
    if accelerator is not None:
        require(
            accelerator in ACCELERATORS,
            "trainer.accelerator",
            accelerator,
            f"is not one of Lightning's accelerators ({', '.join(ACCELERATORS)})",
        )
    data, model = getattr(config, "data", None), getattr(config, "model", None)
    task = getattr(config, "task", None)
    if isinstance(task, TaskConfig):
        TASKS[task.name].check(task.causal, data, model)
        seeds = config.ensemble.seeds if isinstance(config, TrainConfig) else []
        require(
            not seeds or task.name == TaskName.classify,
            "ensemble.seeds",
            seeds,
            f"averages one class distribution per sequence, which task={task.name} "
            "has not got: drop ensemble.seeds (or use task=classify)",
        )
    if isinstance(data, UCRDataConfig) and data.variable_length and isinstance(model, MLPConfig):
        require(
            model.input != MLPInput.flatten,
            "model.input",
            str(model.input),
            "reads one fixed length, but data.variable_length=true lets TEST series vary: "
            "use model.input=mean or max, or a recurrent model",
        )
    if isinstance(data, UCRDataConfig) and data.variable_length:
        require(
            not isinstance(model, RecurrentFCNConfig)
            or model.recurrent_input != RecurrentInput.shuffle,
            "model.recurrent_input",
            "shuffle",
            "reads the whole series as one step of fixed width, but data.variable_length=true "
            "lets TEST series vary: use model.recurrent_input=time",
        )


# Tasks named in conf/task/ whose code is not written yet.
PLANNED_TASKS: dict[str, str] = {}


def _labels_as_word(cfg: DictConfig) -> None:
    """reader.labels=true|false: the command line reads a bool, the option takes the word."""
    reader = cfg.get("reader") if isinstance(cfg, DictConfig) else None
    if isinstance(reader, DictConfig) and isinstance(reader.get("labels"), bool):
        reader.labels = str(reader.labels).lower()


def _refuse_planned_task(cfg: DictConfig) -> None:
    task = cfg.get("task") if isinstance(cfg, DictConfig) else None
    name = task.get("name") if isinstance(task, DictConfig) else None
    if name in PLANNED_TASKS:
        raise SeqlabError(
            f"config: task={name} ({PLANNED_TASKS[name]}) is not built yet; use task=classify "
            "or task=tag"
        )


def _check_extra_callbacks(extra: dict[str, Any]) -> None:
    for name, node in extra.items():
        target = node.get("_target_") if isinstance(node, dict) else None
        if not isinstance(target, str) or "." not in target:
            raise SeqlabError(
                f"config: callbacks.extra.{name} needs a _target_ naming a Callback class, e.g. "
                f"+callbacks.extra.{name}._target_=lightning.pytorch.callbacks.LearningRateMonitor"
            )
