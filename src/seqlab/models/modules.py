"""Rebuilding a trained model from a checkpoint: one reader for every command, and two loaders:
the LightningModule (seqlab-eval, -generate, and whatever a Trainer runs) and the network alone,
without Lightning (seqlab-predict, -eval input= and -export in one CPU process). Which classes a
task uses is the task's (models/tasks.py).
"""

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, cast

import torch

from seqlab.errors import SeqlabError
from seqlab.models.tasks import Task, task_of

if TYPE_CHECKING:
    from seqlab.models.classifier import SequenceClassifier
    from seqlab.models.network import SequenceNetwork

HYPERPARAMETERS = {"model", "meta", "optim", "metrics", "data"}


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


def read_checkpoint(path: str) -> dict[str, Any]:
    """A checkpoint written by seqlab-train, read with torch's weights_only loader (no code in
    the file is run); one SeqlabError line for a missing file, a folder, or a file that is not
    such a checkpoint."""
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise SeqlabError(f"{path}: checkpoint not found; pass ckpt_path=<file>.ckpt") from None
    except IsADirectoryError:
        raise SeqlabError(
            f"{path}: a folder, not a checkpoint; pass ckpt_path=<file>.ckpt (or "
            "resume=<run dir> to continue the run in that folder)"
        ) from None
    except Exception as error:  # torch raises several types for a corrupt or foreign file
        raise SeqlabError(
            f"{path}: not a readable checkpoint ({type(error).__name__}); pass a "
            ".ckpt written by seqlab-train"
        ) from None
    hparams = checkpoint.get("hyper_parameters") if isinstance(checkpoint, dict) else None
    if not hparams or not set(hparams) >= HYPERPARAMETERS:
        raise SeqlabError(
            f"{path}: not a seqlab checkpoint (no model/meta hyperparameters); "
            "pass a .ckpt written by seqlab-train"
        )
    return checkpoint


def module_class(task: Task, data_kind: str) -> type["SequenceClassifier"]:
    """The LightningModule class the task trains on data of `data_kind`."""
    return cast(type["SequenceClassifier"], task.module_class(data_kind))


def load_module(
    path: str, refusal: Callable[[Task], str | None] = any_task
) -> tuple["SequenceClassifier", dict[str, Any]]:
    """The trained LightningModule of a seqlab checkpoint, and the checkpoint; `refusal` says
    why a command cannot use the checkpoint's task (None: it can)."""
    loaded, checkpoint = _load(path, refusal, module_class)
    module = cast("SequenceClassifier", loaded)
    module.on_load_checkpoint(checkpoint)
    return module, checkpoint


def load_network(
    path: str, refusal: Callable[[Task], str | None] = labelling
) -> tuple["SequenceNetwork", dict[str, Any]]:
    """The trained network of a seqlab checkpoint without Lightning, and the checkpoint."""
    network, checkpoint = _load(path, refusal, lambda task, kind: task.network_class())
    return cast("SequenceNetwork", network), checkpoint


def _load(
    path: str,
    refusal: Callable[[Task], str | None],
    class_of: Callable[[Task, str], type],
) -> tuple[torch.nn.Module, dict[str, Any]]:
    checkpoint = read_checkpoint(path)
    hparams = checkpoint["hyper_parameters"]
    task = task_of(hparams.get("task"))
    refused = refusal(task)
    if refused is not None:
        raise SeqlabError(f"{path}: {refused}")
    model = class_of(task, hparams["data"]["kind"])(**hparams)
    try:
        model.load_state_dict(checkpoint["state_dict"])
    except RuntimeError as error:  # torch lists every tensor that does not fit; name the first
        problems = [line.strip() for line in str(error).splitlines()[1:] if line.strip()]
        first = problems[0].split(". ")[0] if problems else str(error).splitlines()[0]
        raise SeqlabError(
            f"{path}: its weights do not fit the model its hyperparameters describe ({first}); "
            "pass a .ckpt written by seqlab-train, unedited"
        ) from None
    return model, checkpoint


def require_same_meta(
    path: str, meta: dict[str, Any], hparams: Mapping[str, Any], fix: str
) -> None:
    """The data read now describes the same classes, channels and length as at training."""
    if meta != hparams["meta"]:
        raise SeqlabError(
            f"{path}: the data no longer matches the checkpoint (classes, channels or length "
            f"changed); {fix}"
        )
