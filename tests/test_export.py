"""seqlab-export: ONNX (run by onnxruntime) and TorchScript give PyTorch's class probabilities
for every model kind, with padding handled in the graph; the sidecar describes the inputs."""

import dataclasses

import numpy as np
import pytest
import torch

from seqlab.data.batch import Batch
from seqlab.data.meta import DataMeta
from seqlab.models.classifier import SequenceClassifier
from seqlab.models.config import FCNConfig, MLPConfig, RecurrentConfig, RecurrentFCNConfig
from seqlab.models.exportable import ExportableClassifier
from seqlab.training.export import _write_onnx, example_inputs

from conftest import OPTIM

ort = pytest.importorskip("onnxruntime")

TOLERANCE = 1e-5
NUMERIC = DataMeta(3, 3, ("a", "b", "c"), max_length=9)
TOKENS = DataMeta(
    0, 2, ("neg", "pos"), 9, category_sizes=(30,), category_names=("tokens",), unknown_id=1
)
EVENTS = DataMeta(2, 2, ("inactive", "active"), 9, (12, 7), ("event", "item"))

CASES = {
    "mlp-flatten": ("mlp", {"hidden_sizes": [16, 8]}, NUMERIC),
    "mlp-mean-tokens": ("mlp", {"hidden_sizes": [16], "input": "mean"}, TOKENS),
    "rnn-last": ("rnn", {"pooling": "last"}, NUMERIC),
    "birnn-max": ("rnn", {"pooling": "max", "bidirectional": True}, NUMERIC),
    "lstm-mean": ("lstm", {"pooling": "mean"}, NUMERIC),
    "bilstm-last-2layers": (
        "lstm",
        {"pooling": "last", "bidirectional": True, "num_layers": 2},
        NUMERIC,
    ),
    "bilstm-max-tokens": ("lstm", {"pooling": "max", "bidirectional": True}, TOKENS),
    "gru-last-events": ("gru", {"pooling": "last"}, EVENTS),
    "bigru-mean": ("gru", {"pooling": "mean", "bidirectional": True}, NUMERIC),
    "bigru-last-tokens": ("gru", {"pooling": "last", "bidirectional": True}, TOKENS),
    # the long-series options: chunked steps (no chunk size here divides 9 or 5), layer norm,
    # attention pooling, the IRNN
    "lstm-chunk2-attention-norm": (
        "lstm",
        {"chunk": 2, "pooling": "attention", "layer_norm": True},
        NUMERIC,
    ),
    "bigru-chunk4-last-norm": (
        "gru",
        {"chunk": 4, "pooling": "last", "bidirectional": True, "layer_norm": True},
        NUMERIC,
    ),
    "bilstm-attention-2layers-tokens": (
        "lstm",
        {"pooling": "attention", "bidirectional": True, "num_layers": 2},
        TOKENS,
    ),
    "irnn-chunk3-mean": (
        "rnn",
        {"chunk": 3, "pooling": "mean", "nonlinearity": "relu", "init": "identity"},
        NUMERIC,
    ),
    # the FCN family: convolutions with padding zeroed between blocks, a recurrent branch that
    # reads the whole series as one step per channel (shuffle) or runs over time
    "fcn": ("fcn", {}, NUMERIC),
    "fcn-tokens": ("fcn", {}, TOKENS),
    "lstm-fcn-shuffle": ("recurrent_fcn", {"cell": "lstm"}, NUMERIC),
    "gru-fcn-time-chunk2": (
        "recurrent_fcn",
        {"cell": "gru", "recurrent_input": "time", "chunk": 2},
        NUMERIC,
    ),
    "lstm-fcn-time-events": ("recurrent_fcn", {"recurrent_input": "time", "chunk": 1}, EVENTS),
}
# an export of these takes one length (the inputs are padded to it)
FIXED_LENGTH = {"mlp-flatten", "lstm-fcn-shuffle"}
FCN_SIZES = {"filters": [8, 16, 8], "kernels": [8, 5, 3]}


def classifier(kind: str, changes: dict, meta: DataMeta) -> SequenceClassifier:
    torch.manual_seed(0)
    if kind == "mlp":
        options = dataclasses.asdict(MLPConfig(**changes))
    elif kind == "fcn":
        options = dataclasses.asdict(FCNConfig(**FCN_SIZES, **changes))
    elif kind == "recurrent_fcn":
        options = dataclasses.asdict(RecurrentFCNConfig(hidden_size=6, **FCN_SIZES, **changes))
    else:
        options = dataclasses.asdict(RecurrentConfig(cell=kind, hidden_size=8, **changes))
    options["embedding_dim"] = 4
    module = SequenceClassifier(options, meta.to_dict(), OPTIM, {"average": "macro"})
    _settle_batch_norm(module, meta)
    return module.eval()


def _settle_batch_norm(module: SequenceClassifier, meta: DataMeta) -> None:
    """Running statistics other than batch norm's initial (0, 1), by forwards in training
    mode, so the exported graph is checked with the statistics a trained model has."""
    if not any(isinstance(m, torch.nn.BatchNorm1d) for m in module.modules()):
        return
    module.train()
    with torch.no_grad():
        for seed in range(3):
            module(batch(meta, [9, 9, 9], 9, seed=seed + 10))


def batch(meta: DataMeta, lengths: list[int], steps: int, seed: int = 1) -> Batch:
    generator = torch.Generator().manual_seed(seed)
    count = len(lengths)
    inputs = torch.randn(count, steps, meta.num_features, generator=generator)
    sizes = meta.category_sizes or (2,)
    categories = torch.stack(
        [torch.randint(1, size, (count, steps), generator=generator) for size in sizes], dim=-1
    )[..., : len(meta.category_sizes)]
    mask = (torch.arange(steps)[None, :] < torch.tensor(lengths)[:, None]).unsqueeze(-1)
    return Batch(inputs * mask, categories * mask, torch.tensor(lengths), torch.zeros(count))


def graph_inputs(model: ExportableClassifier, data: Batch) -> dict[str, torch.Tensor]:
    tensors = {"inputs": data.inputs, "categories": data.categories, "lengths": data.lengths}
    return {name: tensors[name] for name in model.graph_inputs}


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """Each case's PyTorch module, ONNX session and TorchScript module (exported once)."""
    folder = tmp_path_factory.mktemp("exported")
    cache = {}

    def get(name: str):
        if name not in cache:
            module = classifier(*CASES[name])
            model = ExportableClassifier(module)
            example = example_inputs(model, module.hparams["meta"])
            _write_onnx(model, example, folder / f"{name}.onnx", opset=17)
            session = ort.InferenceSession(str(folder / f"{name}.onnx"))
            torch.jit.save(torch.jit.trace(model, example), str(folder / f"{name}.pt"))
            cache[name] = (module, model, session, torch.jit.load(str(folder / f"{name}.pt")))
        return cache[name]

    return get


@pytest.mark.parametrize("name", CASES)
def test_onnx_and_torchscript_give_pytorch_probabilities(exported, name):
    module, model, session, scripted = exported(name)
    meta = DataMeta.from_dict(module.hparams["meta"])
    fixed = model.fixed_length
    steps = fixed or 9
    lengths = [fixed] * 5 if fixed else [9, 3, 1, 7, 9, 4]
    data = batch(meta, lengths, steps)
    with torch.no_grad():
        expected = module(data).softmax(dim=-1).numpy()
        feeds = graph_inputs(model, data)
        got_script = scripted(*feeds.values()).numpy()
    got_onnx = session.run(None, {k: v.numpy() for k, v in feeds.items()})[0]
    assert np.abs(got_onnx - expected).max() <= TOLERANCE
    assert np.abs(got_script - expected).max() <= TOLERANCE


@pytest.mark.parametrize("name", [n for n in CASES if n not in FIXED_LENGTH])
def test_extra_padding_changes_nothing_in_the_exported_graph(exported, name):
    module, model, session, _ = exported(name)
    meta = DataMeta.from_dict(module.hparams["meta"])
    tight = batch(meta, [5, 2, 4], steps=5)
    padded = Batch(
        torch.nn.functional.pad(tight.inputs, (0, 0, 0, 6)),
        torch.nn.functional.pad(tight.categories, (0, 0, 0, 6)),
        tight.lengths,
        tight.labels,
    )
    results = [
        session.run(None, {k: v.numpy() for k, v in graph_inputs(model, b).items()})[0]
        for b in (tight, padded)
    ]
    assert np.abs(results[0] - results[1]).max() <= TOLERANCE
