"""data=memory: determinism per seed, labels that follow the task's definition, T < 2 refused;
and the memory-sweep report read back from job folders."""

import json

import numpy as np
import pytest
import torch

from seqlab.data.memory.config import MemoryDataConfig
from seqlab.data.memory.datamodule import (
    BLANK_ID,
    MemoryDataModule,
    adding_mse,
    adding_test_sums,
    bin_means,
    sum_quantiles,
)
from seqlab.data.registry import build_datamodule
from seqlab.errors import SeqlabError
from seqlab.reports.memory_sweep import write_report
from seqlab.schema import to_dataclass

from conftest import compose_train, run_cli


def memory(task: str, seed: int = 0, **options) -> MemoryDataModule:
    settings = dict(
        length=20, noise=0.0, num_classes=2, num_train=400, num_val=50, num_test=60, batch_size=8
    )
    module = build_datamodule({"kind": "memory", "task": task, "seed": seed, **settings, **options})
    module.setup("fit")
    return module


@pytest.mark.parametrize("task", ["adding", "first_symbol"])
def test_the_same_seed_gives_the_same_data_and_another_seed_other_data(task):
    first, again, other = memory(task, 3), memory(task, 3), memory(task, 4)
    for split in ("train", "val", "test"):
        a, b, c = first.splits[split], again.splits[split], other.splits[split]
        for name in ("inputs", "categories", "labels"):
            assert torch.equal(getattr(a, name), getattr(b, name))
        assert not torch.equal(a.inputs, c.inputs) or not torch.equal(a.categories, c.categories)
    # the test split does not move when the training set grows
    bigger = memory(task, 3, num_train=800)
    assert torch.equal(bigger.splits["test"].labels, first.splits["test"].labels)


def test_adding_labels_are_the_bin_of_the_sum_of_the_two_marked_values():
    data = memory("adding", num_classes=4, noise=0.3).splits["train"]
    values, markers = data.inputs[..., 0], data.inputs[..., 1]
    assert torch.equal(markers.sum(dim=1), torch.full((400,), 2.0))
    first, second = (markers[:, :10] == 1).any(dim=1), (markers[:, 10:] == 1).any(dim=1)
    assert first.all() and second.all()  # one marker in each half
    total = (values * markers).sum(dim=1).numpy()
    edges = sum_quantiles(4)
    assert np.array_equal(data.labels.numpy(), np.digitize(total, edges))
    assert sum_quantiles(2).tolist() == [1.0]
    counts = np.bincount(data.labels.numpy(), minlength=4)
    assert counts.min() > 70  # four equally likely bins: 100 each expected
    # noise touches unmarked values only, so some fall outside [0, 1]
    assert (values < 0).any() and (values[markers == 1] >= 0).all()


def test_first_symbol_labels_are_the_first_id_and_noise_is_the_distractor_rate():
    module = memory("first_symbol", num_classes=5, noise=0.25, length=40)
    data = module.splits["train"]
    ids = data.categories[..., 0]
    assert torch.equal(data.labels, ids[:, 0] - BLANK_ID - 1)
    later = ids[:, 1:]
    assert ((later == BLANK_ID) | ((later > BLANK_ID) & (later <= BLANK_ID + 5))).all()
    assert (later != BLANK_ID).float().mean().item() == pytest.approx(0.25, abs=0.02)
    assert module.meta.category_sizes == (BLANK_ID + 1 + 5,)
    assert module.meta.num_features == 0 and data.inputs.shape == (400, 40, 0)


@pytest.mark.parametrize(
    "options,message",
    [
        ({"length": 1}, r"data.length=1: a memory task needs at least 2 steps"),
        ({"num_classes": 1}, r"data.num_classes=1"),
        ({"noise": 1.5, "task": "first_symbol"}, r"data.noise=1.5: .* probability"),
    ],
)
def test_bad_memory_settings_are_refused(options, message):
    settings = {"task": "adding", **options}
    with pytest.raises(SeqlabError, match=message):
        memory(**settings)


def test_memory_config_composes_and_builds():
    config = compose_train(["data=memory", "data.length=5", "data.num_train=10"])
    module = build_datamodule(config.data)
    module.setup("fit")
    assert module.meta.max_length == 5 and len(module.splits["train"]) == 10


@pytest.mark.slow
def test_t_below_two_fails_on_the_command_line_with_one_line(tmp_path):
    result = run_cli(
        "seqlab.cli.train", "data=memory", "data.length=1", f"hydra.run.dir={tmp_path}"
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert lines[-1].startswith("seqlab: error: data.length=1:")
    assert not (tmp_path / "metrics.json").exists()


def test_the_adding_sums_regenerate_the_test_labels_and_score_an_mse():
    settings = dict(length=30, num_classes=10, num_train=40, num_val=20, num_test=300, seed=5)
    module = memory("adding", **settings)
    config = to_dataclass(MemoryDataConfig, {"task": "adding", **settings})
    sums = adding_test_sums(config)
    labels = module.splits["test"].labels.numpy()
    assert np.array_equal(np.searchsorted(sum_quantiles(10), sums, side="right"), labels)
    # a perfect classifier: only the error of answering its bin's mean, far below 1/60
    perfect = np.eye(10)[labels]
    assert adding_mse(perfect, sums) < 0.006
    # uniform probabilities answer the mean sum 1.0: the variance of the sum, 1/6
    uniform = np.full((len(sums), 10), 0.1)
    assert adding_mse(uniform, sums) == pytest.approx(np.mean((sums - 1.0) ** 2), rel=1e-6)
    means = bin_means(10)
    assert np.all(np.diff(means) > 0) and means.mean() == pytest.approx(1.0, abs=1e-6)
    edges = np.concatenate([[0.0], sum_quantiles(10), [2.0]])
    assert np.all((edges[:-1] < means) & (means < edges[1:]))


def _job(folder, cell, length, acc, ratio, task="first_symbol", init="default", mse=None):
    (folder / ".hydra").mkdir(parents=True)
    (folder / ".hydra" / "config.yaml").write_text(
        f"model: {{cell: {cell}, num_layers: 1, init: {init}}}\n"
        f"data: {{task: {task}, length: {length}, num_classes: 4}}\n"
    )
    (folder / "metrics.json").write_text(json.dumps({"test/acc": acc}))
    if mse is not None:
        (folder / "adding_mse.json").write_text(json.dumps({"test/mse": mse}))
    (folder / "gradients").mkdir()
    history = {
        "steps": [0],
        "hidden": [{"l0": [ratio] + [1.0] * (length - 1)}],
        "ratios": [{"l0": ratio}],
    }
    (folder / "gradients" / "gradients.json").write_text(json.dumps(history))


def test_the_sweep_report_tabulates_each_job(tmp_path):
    jobs = [("rnn", 10, 0.9, 1e-3), ("rnn", 50, 0.3, 1e-9), ("lstm", 10, 1.0, 1e-2)]
    for index, (cell, length, acc, ratio) in enumerate(jobs):
        _job(tmp_path / str(index), cell, length, acc, ratio)
    _job(tmp_path / "3", "rnn", 10, 0.5, 1e-1, init="identity")
    _job(tmp_path / "4", "gru", 10, 0.6, 1e-1, task="adding", mse=0.0123)
    _job(tmp_path / "5", "rnn", 50, 0.25, 1e-8, task="adding", mse=0.1666)
    written = write_report(tmp_path)
    report = (tmp_path / "memory_report.md").read_text()
    first_symbol = report[report.index("## first_symbol") :]
    assert "| rnn | 0.900 | 0.300 |" in first_symbol
    assert "| lstm | 1.000 |  |" in first_symbol  # lstm at T=50 did not run
    assert "| irnn | 0.500 |  |" in first_symbol  # the identity-started rnn has its own row
    assert "| rnn | 1.00e-03 | 1.00e-09 |" in first_symbol
    assert "chance 0.250" in first_symbol
    adding = report[report.index("## adding") : report.index("## first_symbol")]
    assert "| gru | 0.0123 |  |" in adding and "| rnn |  | 0.1666 |" in adding
    assert all(path.stat().st_size > 0 for path in written)


def test_the_report_scores_a_checkpoint_on_its_regenerated_test_split(tmp_path):
    """checkpoint_mse rebuilds the test split from the data config stored in the checkpoint
    and scores the expected sum; here against the same model run on the datamodule's split."""
    import dataclasses

    from seqlab.models.classifier import SequenceClassifier
    from seqlab.models.config import RecurrentConfig
    from seqlab.reports.memory_sweep import checkpoint_mse, job_mse

    from conftest import OPTIM

    data = dict(
        kind="memory", task="adding", length=12, noise=0.0, num_classes=10, num_train=8,
        num_val=8, num_test=40, batch_size=8, num_workers=0, seed=7,
    )  # fmt: skip
    module = memory("adding", **{k: v for k, v in data.items() if k not in ("kind", "task")})
    torch.manual_seed(0)
    model = dataclasses.asdict(RecurrentConfig(cell="gru", hidden_size=8, pooling="last"))
    classifier = SequenceClassifier(
        model, module.meta.to_dict(), OPTIM, {"average": "macro"}, data=data
    ).eval()
    job = tmp_path / "job"
    (job / "checkpoints").mkdir(parents=True)
    path = job / "checkpoints" / "epoch3.ckpt"
    checkpoint = {
        # plain types only, as seqlab-train stores them (torch's weights_only loader reads them)
        "hyper_parameters": json.loads(json.dumps(dict(classifier.hparams))),
        "state_dict": classifier.state_dict(),
    }
    torch.save(checkpoint, path)
    test = module.splits["test"]
    with torch.no_grad():
        logits = classifier(test.batch(torch.arange(len(test)), data["length"]))
    sums = adding_test_sums(to_dataclass(MemoryDataConfig, data))
    expected = adding_mse(logits.softmax(dim=-1).numpy(), sums)
    assert checkpoint_mse(path) == pytest.approx(expected, rel=1e-6)
    assert job_mse(job) == pytest.approx(expected, rel=1e-6)  # and kept in adding_mse.json
    assert json.loads((job / "adding_mse.json").read_text())["checkpoint"] == "epoch3.ckpt"
