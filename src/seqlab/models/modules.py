"""Which LightningModule a run trains, and rebuilding it from a checkpoint: one choice, and one
loader, for seqlab-train, -eval, -predict, -export and -generate.

classify and tag: SequenceClassifier (a head on the pooled state or on every step);
generate: SequenceGenerator (weekly counts of event data) or TextGenerator (class-conditioned
messages). The generators import the classifier, so they are imported here, when chosen.
"""

from collections.abc import Collection, Mapping
from typing import Any

from seqlab.errors import SeqlabError
from seqlab.models.classifier import SequenceClassifier, read_checkpoint
from seqlab.models.tagger import TASKS, task_name

LABELLING = ("classify", "tag")  # a class per sequence or per step: predict, export
GENERATING = ("generate",)  # seqlab-generate


def module_class(task: str, data_kind: str) -> type[SequenceClassifier]:
    if task != "generate":
        return SequenceClassifier
    if data_kind == "text":
        from seqlab.models.text_generator import TextGenerator

        return TextGenerator
    from seqlab.models.generator import SequenceGenerator

    return SequenceGenerator


def load_module(
    path: str, tasks: Collection[str] = TASKS
) -> tuple[SequenceClassifier, dict[str, Any]]:
    """The trained module of a seqlab checkpoint of one of `tasks`, and the checkpoint (torch's
    weights_only loader: no code in the file is run)."""
    checkpoint = read_checkpoint(path)
    hparams = checkpoint["hyper_parameters"]
    task = task_name(hparams.get("task"))
    if task not in tasks:
        raise SeqlabError(f"{path}: {_wrong_task(task)}")
    module = module_class(task, hparams["data"]["kind"])(**hparams)
    try:
        module.load_state_dict(checkpoint["state_dict"])
    except RuntimeError as error:  # torch lists every tensor that does not fit; name the first
        problems = [line.strip() for line in str(error).splitlines()[1:] if line.strip()]
        first = problems[0].split(". ")[0] if problems else str(error).splitlines()[0]
        raise SeqlabError(
            f"{path}: its weights do not fit the model its hyperparameters describe ({first}); "
            "pass a .ckpt written by seqlab-train, unedited"
        ) from None
    module.on_load_checkpoint(checkpoint)
    return module, checkpoint


def _wrong_task(task: str) -> str:
    if task == "generate":
        return (
            "a task=generate checkpoint, which samples sequences rather than classifying them; "
            "use seqlab-generate ckpt_path=<file> to sample, seqlab-eval ckpt_path=<file> to "
            "score it"
        )
    return (
        f"a task={task} checkpoint samples nothing; pass the checkpoint of a task=generate run "
        "(experiment=cdnow_futures_lstm)"
    )


def require_same_meta(
    path: str, meta: dict[str, Any], hparams: Mapping[str, Any], fix: str
) -> None:
    """The data read now describes the same classes, channels and length as at training."""
    if meta != hparams["meta"]:
        raise SeqlabError(
            f"{path}: the data no longer matches the checkpoint (classes, channels or length "
            f"changed); {fix}"
        )
