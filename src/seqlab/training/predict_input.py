"""What seqlab-predict and seqlab-eval input= read: the input, by the checkpoint's data kind with
the checkpoint's fitted preprocessing, checked against what the model can take; standard input
saved in the run dir first."""

import sys
from pathlib import Path
from typing import Any

import torch

from seqlab.config import LocalDataConfig
from seqlab.data.input_config import ReaderConfig
from seqlab.data.prediction import PredictionData
from seqlab.data.registry import read_prediction_input
from seqlab.errors import SeqlabError
from seqlab.files import write_bytes_atomic
from seqlab.models.config import MLPConfig, MLPInput
from seqlab.models.tasks import task_of
from seqlab.schema import to_dataclass
from seqlab.training.ddp import is_launching_process

STDIN_FILE = "stdin.txt"  # input=- is saved here, in the run dir


def spool_stdin(source: str, kind: str, run_dir: Path, reader: ReaderConfig) -> str:
    """input=-: standard input is saved in the run dir and read from there, by the ranks that
    DDP launches too (they cannot read the stream the launching process has consumed)."""
    if source != "-":
        return source
    if kind != "text":
        raise SeqlabError(
            f"input=-: standard input carries text lines, but the checkpoint's data is {kind}; "
            "pass input=<file>"
        )
    path = run_dir / STDIN_FILE
    if is_launching_process():
        write_bytes_atomic(path, sys.stdin.buffer.read())
    if reader.format is None:
        reader.format = "lines"
    return str(path)


def read_input(
    hparams: dict[str, Any],
    ckpt_path: str,
    source: str,
    reader: ReaderConfig,
    local: LocalDataConfig | None = None,
) -> PredictionData:
    """The input read by the checkpoint's data kind with the checkpoint's fitted state
    (`hparams`: its hyperparameters), checked against what the model can take."""
    from seqlab.data.meta import DataMeta

    fitted = hparams.get("fitted")
    if fitted is None:
        raise SeqlabError(
            f"{ckpt_path}: written before checkpoints carried their fitted preprocessing; "
            f"re-export it once, with its training data in place: seqlab-export "
            f"ckpt_path={ckpt_path} format=ckpt"
        )
    meta = DataMeta.from_dict(hparams["meta"])
    local = local or LocalDataConfig()  # the user's cache folder, the checkpoint's data.root
    task = task_of(hparams.get("task")).name
    data = read_prediction_input(local.apply(hparams["data"]), task, fitted, meta, source, reader)
    _check_lengths(hparams["model"], meta.max_length, fitted.get("length"), data)
    return data


def _check_lengths(model: dict, max_length: int, fixed: int | None, data: PredictionData) -> None:
    """An MLP that flattens its input has one input width: sequences up to the longest of
    training (or exactly the one length of fixed-length training data)."""
    if model["kind"] != "mlp" or to_dataclass(MLPConfig, model).input != MLPInput.flatten:
        return
    lengths = data.dataset.lengths
    bad = (lengths != fixed) if fixed is not None else (lengths > max_length)
    if bool(bad.any()):
        row = int(torch.nonzero(bad)[0])
        expected = f"exactly {fixed}" if fixed is not None else f"at most {max_length}"
        raise SeqlabError(
            f"input {data.ids[row]} has {int(lengths[row])} steps; the MLP (model.input="
            f"flatten) takes {expected}: give series of that length or use a recurrent model"
        )
