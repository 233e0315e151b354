"""Rebuilding a trained module from a checkpoint: one loader for seqlab-eval, -predict,
-export and -generate. Which class a task trains is the task's (models/tasks.py).
"""

from collections.abc import Callable, Mapping
from typing import Any, cast

from seqlab.errors import SeqlabError
from seqlab.models.classifier import SequenceClassifier, read_checkpoint
from seqlab.models.tasks import Task, task_of


def any_task(task: Task) -> str | None:
    """seqlab-eval scores every task's checkpoints."""
    return None


def labelling(task: Task) -> str | None:
    """seqlab-predict and seqlab-export take the checkpoints of a task that labels inputs."""
    return task.not_predicted


def sampling(task: Task) -> str | None:
    """seqlab-generate takes the checkpoints of a task that samples."""
    if task.samples:
        return None
    return (
        f"a task={task.name} checkpoint samples nothing; pass the checkpoint of a task=generate "
        "run (experiment=cdnow_futures_lstm)"
    )


def module_class(task: Task, data_kind: str) -> type[SequenceClassifier]:
    """The LightningModule class the task trains on data of `data_kind`."""
    return cast(type[SequenceClassifier], task.module_class(data_kind))


def load_module(
    path: str, refusal: Callable[[Task], str | None] = any_task
) -> tuple[SequenceClassifier, dict[str, Any]]:
    """The trained module of a seqlab checkpoint, and the checkpoint (torch's weights_only
    loader: no code in the file is run); `refusal` says why a command cannot use the
    checkpoint's task (None: it can)."""
    checkpoint = read_checkpoint(path)
    hparams = checkpoint["hyper_parameters"]
    task = task_of(hparams.get("task"))
    refused = refusal(task)
    if refused is not None:
        raise SeqlabError(f"{path}: {refused}")
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


def require_same_meta(
    path: str, meta: dict[str, Any], hparams: Mapping[str, Any], fix: str
) -> None:
    """The data read now describes the same classes, channels and length as at training."""
    if meta != hparams["meta"]:
        raise SeqlabError(
            f"{path}: the data no longer matches the checkpoint (classes, channels or length "
            f"changed); {fix}"
        )
