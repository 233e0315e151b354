"""seqlab-export: a checkpoint as an ONNX or TorchScript model with a model.json sidecar (what
a user needs to run it without seqlab), or as a checkpoint re-exported with the fitted
preprocessing of its training data (checkpoints written before it was stored there).
"""

import json
import warnings
from pathlib import Path
from typing import Any

import torch

import seqlab
from seqlab.config import ExportConfig
from seqlab.data.registry import build_datamodule
from seqlab.errors import SeqlabError
from seqlab.files import atomic_path, write_text_atomic
from seqlab.layout import CHECKPOINT_DIR
from seqlab.models.exportable import ExportableClassifier
from seqlab.models.modules import labelling, load_network, require_same_meta
from seqlab.models.tasks import TASKS, task_of

MODEL_FILES = {"onnx": "model.onnx", "torchscript": "model.pt"}
SIDECAR = "model.json"
TOKENIZER_FILE = "tokenizer.json"


def export(config: ExportConfig) -> list[Path]:
    run_dir = Path(config.paths.output_dir)
    if config.format == "ckpt":
        return [reexport_checkpoint(config.ckpt_path, run_dir)]
    network, checkpoint = load_network(config.ckpt_path, labelling)
    hparams = checkpoint["hyper_parameters"]
    not_exported = TASKS[network.task].not_exported
    if not_exported is not None:
        raise SeqlabError(f"{config.ckpt_path}: {not_exported}")
    fitted = hparams.get("fitted")
    if fitted is None:
        raise SeqlabError(
            f"{config.ckpt_path}: written before checkpoints carried their fitted "
            "preprocessing, which the sidecar needs; re-export it first, with its training "
            f"data in place: seqlab-export ckpt_path={config.ckpt_path} format=ckpt"
        )
    model = ExportableClassifier(network)
    example = example_inputs(model, hparams["meta"])
    target = run_dir / MODEL_FILES[config.format]
    with atomic_path(target) as temporary:
        if config.format == "onnx":
            _write_onnx(model, example, temporary, config.opset)
        else:
            torch.jit.save(torch.jit.trace(model, example), str(temporary))
    written = [target]
    fitted = dict(fitted)
    if "tokenizer" in fitted:
        # the tokenizers library reads it as is: Tokenizer.from_file("tokenizer.json")
        write_text_atomic(run_dir / TOKENIZER_FILE, fitted.pop("tokenizer"))
        fitted["tokenizer_file"] = TOKENIZER_FILE
        written.append(run_dir / TOKENIZER_FILE)
    sidecar = _sidecar(hparams, model, target.name, config, fitted)
    write_text_atomic(run_dir / SIDECAR, json.dumps(sidecar, indent=2) + "\n")
    return [*written, run_dir / SIDECAR]


def example_inputs(model: ExportableClassifier, meta: dict) -> tuple[torch.Tensor, ...]:
    """A batch of two: lengths differ, so nothing in the trace depends on one of them."""
    steps = model.fixed_length or max(2, min(meta["max_length"], 8))
    tensors = {
        "inputs": torch.zeros(2, steps, meta["num_features"]),
        "categories": torch.ones(2, steps, len(meta["category_sizes"]), dtype=torch.long),
        "lengths": torch.tensor([steps, steps - 1]),
    }
    return tuple(tensors[name] for name in model.graph_inputs)


def _write_onnx(
    model: ExportableClassifier, example: tuple[torch.Tensor, ...], path: Path, opset: int
) -> None:
    dynamic = {"inputs": {0: "batch", 1: "time"}, "categories": {0: "batch", 1: "time"}}
    if model.fixed_length:
        dynamic = {name: {0: "batch"} for name in dynamic}
    axes = {name: dynamic.get(name, {0: "batch"}) for name in model.graph_inputs}
    # The TorchScript-based exporter writes torch's recurrent layers as ONNX's own LSTM, GRU
    # and RNN operators, in about a second; the dynamo exporter took ten times as long here.
    with warnings.catch_warnings():
        # It warns that initial states are not graph inputs, so a batch size other than the
        # example's could fail; they are zeros, and tests/test_export.py runs other sizes.
        warnings.filterwarnings("ignore", message="Exporting a model to ONNX with a batch_size")
        torch.onnx.export(
            model,
            example,
            str(path),
            dynamo=False,
            input_names=model.graph_inputs,
            output_names=["probabilities"],
            dynamic_axes={**axes, "probabilities": {0: "batch"}},
            opset_version=opset,
        )


def _sidecar(
    hparams: Any, model: ExportableClassifier, file: str, config: ExportConfig, fitted: dict
) -> dict[str, Any]:
    meta = hparams["meta"]
    steps = model.fixed_length or "time"
    shapes = {
        "inputs": {"dtype": "float32", "shape": ["batch", steps, meta["num_features"]]},
        "categories": {"dtype": "int64", "shape": ["batch", steps, len(meta["category_sizes"])]},
        "lengths": {"dtype": "int64", "shape": ["batch"]},
    }
    return {
        "seqlab_version": seqlab.__version__,
        "format": config.format,
        "file": file,
        "opset": config.opset if config.format == "onnx" else None,
        "checkpoint": str(config.ckpt_path),
        "inputs": {name: shapes[name] for name in model.graph_inputs},
        "output": {"name": "probabilities", "dtype": "float32", "shape": ["batch", "classes"]},
        "class_names": list(meta["class_names"]),
        "input_spec": {
            "num_features": meta["num_features"],
            "category_names": list(meta["category_names"]),
            "category_sizes": list(meta["category_sizes"]),
            "padding_id": meta["padding_id"],
            "unknown_id": meta["unknown_id"],
            "max_length": meta["max_length"],
            "fixed_length": model.fixed_length,
        },
        "data": hparams["data"],
        "preprocessing": fitted,
    }


def reexport_checkpoint(ckpt_path: str, run_dir: Path) -> Path:
    """The checkpoint with `fitted` added to its hyperparameters: the training data is read and
    split again (the checkpoint's data options and seed) and the preprocessing refitted."""
    _, checkpoint = load_network(ckpt_path, labelling)
    hparams = checkpoint["hyper_parameters"]
    datamodule = build_datamodule(hparams["data"], task_of(hparams.get("task")).name)
    datamodule.setup("fit")
    require_same_meta(
        ckpt_path,
        datamodule.meta.to_dict(),
        hparams,
        "the preprocessing cannot be refitted as it was: retrain the model",
    )
    hparams["fitted"] = datamodule.fitted_state()
    target = run_dir / CHECKPOINT_DIR / Path(ckpt_path).name
    with atomic_path(target) as temporary:
        torch.save(checkpoint, temporary)
    return target
