"""Every task (`task.name`): what a run predicts, and what belongs to that task alone: its
LightningModule, the checks of the options it needs, what each command does with its
checkpoints, its test callbacks and its report after testing. Adding a task is one entry in
TASKS (and its module).

Kept free of torch, like the option dataclasses: seqlab.config checks a task's options with it
before anything heavy loads.
"""

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from importlib import import_module
from typing import Any

from seqlab.data.events.config import EventsDataConfig, TimeFeature
from seqlab.data.text.config import TextDataConfig, TokenizerKind
from seqlab.errors import require
from seqlab.models.config import RecurrentConfig


class TaskName(StrEnum):
    classify = "classify"  # many-to-one: a sequence in, one class out
    tag = "tag"  # many-to-many: one label per time step (event data)
    # one-to-many / sequence-to-sequence: condition on the history, generate what follows
    # (event data: weekly purchase counts after data.cutoff.time; text: a message of a class)
    generate = "generate"


@dataclass(frozen=True)
class Task:
    name: TaskName
    # data kind -> "module:Class" of the LightningModule that trains it ("*": every kind)
    modules: dict[str, str]
    # checks the options of the other groups that the task needs: (task.causal, data, model);
    # model is None for the commands that train no network (baselines, compare)
    check: Callable[[bool, Any, Any], None]
    per_step: bool = False  # a label per step: predictions and baseline features per step
    # why seqlab-predict, seqlab-eval input= and seqlab-export refuse its checkpoints (None: they
    # take them); and why seqlab-export writes no ONNX or TorchScript model of them
    not_predicted: str | None = None
    not_exported: str | None = None
    # its test part is scored by sampling (the futures or unigram report after testing), with
    # no plots or prediction table; seqlab-generate takes its checkpoints
    samples: bool = False
    # "module:Class" of its network without Lightning (seqlab-predict, -eval input= and -export
    # in one CPU process), for the tasks those take
    network: str = "seqlab.models.network:SequenceNetwork"

    def module_class(self, data_kind: str) -> type:
        """The LightningModule class of this task on data of `data_kind`."""
        return _load_class(self.modules.get(data_kind) or self.modules["*"])

    def network_class(self) -> type:
        """The network of this task, without Lightning (a base of its LightningModule)."""
        return _load_class(self.network)


def _load_class(path: str) -> type:
    module, _, name = path.partition(":")
    return getattr(import_module(module), name)


def _check_classify(causal: bool, data: Any, model: Any) -> None:
    """Any data kind and encoder classify."""


def _check_tag(causal: bool, data: Any, model: Any) -> None:
    require(
        isinstance(data, EventsDataConfig),
        "task.name",
        "tag",
        f"needs a label per time step, which event data has (data=cdnow, yoochoose or events), "
        f"not data.kind={data.kind!r}",
    )
    if model is not None:
        require(
            isinstance(model, RecurrentConfig),
            "task.name",
            "tag",
            "labels every step from that step's hidden state; an MLP pools over time, use a "
            "recurrent model (model=gru, lstm or rnn)",
        )
    recurrent = model if isinstance(model, RecurrentConfig) else None
    require(
        recurrent is None or recurrent.chunk == 1,
        "model.chunk",
        recurrent and recurrent.chunk,
        "joins several steps into one recurrent step, but task=tag labels every step: use "
        "model.chunk=1",
    )
    require(
        not (causal and recurrent is not None and recurrent.bidirectional),
        "task.causal",
        causal,
        "lets a step see only the past, but a bidirectional encoder reads the future too: use a "
        "unidirectional model (model=gru, lstm or rnn) or task.causal=false",
    )
    require(
        TimeFeature.age not in data.time_features,
        "data.time_features",
        [str(feature) for feature in data.time_features],
        "holds age (time to the cutoff), which task=tag has not got (every event is a "
        "prediction point): use data.time_features=[gap,since_first]",
    )


def _check_generate(causal: bool, data: Any, model: Any) -> None:
    require(
        isinstance(data, EventsDataConfig | TextDataConfig),
        "task.name",
        "generate",
        f"generates weekly purchase counts of event data (data=cdnow or events) or "
        f"class-conditioned text (data=sms_spam or text), not data.kind={data.kind!r}",
    )
    if model is not None:
        require(
            isinstance(model, RecurrentConfig),
            "task.name",
            "generate",
            "needs an autoregressive recurrent decoder; use model=lstm, gru or rnn",
        )
    recurrent = model if isinstance(model, RecurrentConfig) else None
    require(
        recurrent is None or not recurrent.bidirectional,
        "model.bidirectional",
        True,
        "would let the decoder read steps it has not generated yet; a decoder runs forward "
        "only: use model=lstm, gru or rnn",
    )
    require(
        recurrent is None or recurrent.chunk == 1,
        "model.chunk",
        recurrent and recurrent.chunk,
        "joins several steps into one recurrent step, but task=generate draws one step at a "
        "time: use model.chunk=1",
    )
    if isinstance(data, TextDataConfig):
        require(
            data.tokenizer == TokenizerKind.word,
            "data.tokenizer",
            str(data.tokenizer),
            "task=generate on text draws whole words (its messages are the tokens joined by "
            "spaces); use data.tokenizer=word",
        )
        require(
            data.max_length is None,
            "data.max_length",
            data.max_length,
            "cuts messages short, and task=generate would learn to end a message at the cut; "
            "use data.max_length=null",
        )
        return
    require(
        data.cutoff.time is not None,
        "data.cutoff.time",
        None,
        "ends the conditioning weeks of task=generate; set a date (and data.cutoff.events=null)",
    )


TASKS: dict[TaskName, Task] = {
    TaskName.classify: Task(
        TaskName.classify,
        {"*": "seqlab.models.classifier:SequenceClassifier"},
        _check_classify,
    ),
    TaskName.tag: Task(
        TaskName.tag,
        {"*": "seqlab.models.tagger:SequenceTagger"},
        _check_tag,
        per_step=True,
        network="seqlab.models.network:TaggerNetwork",
        not_exported="a task=tag checkpoint (a label per step); exporting it to onnx or "
        "torchscript is not built yet, use format=ckpt",
    ),
    TaskName.generate: Task(
        TaskName.generate,
        {
            "events": "seqlab.models.generator:SequenceGenerator",
            "text": "seqlab.models.text_generator:TextGenerator",
        },
        _check_generate,
        not_predicted="a task=generate checkpoint, which samples sequences rather than "
        "classifying them; use seqlab-generate ckpt_path=<file> to sample, seqlab-eval "
        "ckpt_path=<file> to score it",
        samples=True,
    ),
}


def task_of(hparams_task: dict[str, Any] | None) -> Task:
    """The task of a checkpoint's hyperparameters; checkpoints from before tasks existed
    classify."""
    name = (hparams_task or {}).get("name", TaskName.classify)
    if name not in TASKS:
        raise ValueError(f"unknown task {name!r}")
    return TASKS[TaskName(name)]
