"""Short real trainings on GunPoint: every model, metrics.json, eval from checkpoint, seeds."""

import csv
import json

import pytest
import torch

from seqlab.errors import SeqlabError
from seqlab.training.pipeline import evaluate, train

from conftest import EXPECTED_KEYS, compose_train, eval_config, quick_overrides

pytestmark = pytest.mark.slow
MODELS = ["mlp", "rnn", "lstm", "gru", "birnn", "bilstm", "bigru"]


@pytest.mark.parametrize("model", MODELS)
def test_each_model_trains_and_writes_metrics(model, tmp_path):
    metrics = train(compose_train(quick_overrides(f"model={model}"), output_dir=tmp_path))
    written = json.loads((tmp_path / "metrics.json").read_text())
    # how the run was done (data.protocol): the fixed validation split, best epoch of 3
    assert written.pop("protocol") == "val_split"
    assert 1 <= written.pop("protocol/epochs") <= 3
    assert written == metrics
    assert set(written) == EXPECTED_KEYS
    assert all(isinstance(v, float) for v in written.values())
    assert all(
        0.0 <= written[k] <= 1.0
        for k in written
        if not k.endswith("loss") and not k.endswith("loss_best")
    )
    last = torch.load(tmp_path / "checkpoints" / "last.ckpt", weights_only=True)
    # written when fit ends (or in the last epoch, when the cadence fell there): 3 x 3 steps
    assert last["global_step"] == 9
    assert (tmp_path / "csv" / "metrics.csv").is_file()


def test_val_best_values_are_written_once_when_fit_ends(tmp_path):
    metrics = train(compose_train(quick_overrides("model=rnn"), output_dir=tmp_path))
    rows = list(csv.DictReader((tmp_path / "csv" / "metrics.csv").open()))
    epochs = [row for row in rows if row.get("val/f1")]
    best_rows = [row for row in rows if row.get("val/f1_best")]
    assert len(epochs) == 3 and len(best_rows) == 1
    (best,) = best_rows
    for name in ("acc", "precision", "recall", "f1", "auroc", "loss"):
        values = [float(row[f"val/{name}"]) for row in epochs]
        expected = min(values) if name == "loss" else max(values)
        assert float(best[f"val/{name}_best"]) == pytest.approx(expected, abs=1e-6)
        assert metrics[f"val/{name}_best"] == pytest.approx(expected, abs=1e-6)
    assert int(best["step"]) > max(int(row["step"]) for row in epochs)  # after the last epoch


def test_the_mlp_learns_gunpoint(tmp_path):
    # 40 epochs at a constant rate (the experiment's cosine schedule is sized for 1000)
    overrides = quick_overrides("model=mlp", "optim.scheduler=none", "trainer.max_epochs=40")
    config = compose_train(overrides, output_dir=tmp_path)
    metrics = train(config)
    assert metrics["test/acc"] > 0.75  # chance is 0.5
    assert metrics["val/loss_best"] < 0.6


def test_eval_from_checkpoint_reproduces_the_test_metrics(tmp_path):
    trained = train(compose_train(quick_overrides("model=gru"), output_dir=tmp_path / "train"))
    best = next((tmp_path / "train" / "checkpoints").glob("epoch*.ckpt"))
    evaluated = evaluate(eval_config(best, tmp_path / "eval"))
    assert json.loads((tmp_path / "eval" / "metrics.json").read_text()) == evaluated
    test_metrics = {k: v for k, v in trained.items() if k.startswith("test/")}
    assert evaluated == pytest.approx(test_metrics, abs=1e-7)


def test_same_seed_gives_identical_metrics(tmp_path):
    overrides = quick_overrides("model=lstm", "seed=7")
    first = train(compose_train(overrides, output_dir=tmp_path / "a"))
    second = train(compose_train(overrides, output_dir=tmp_path / "b"))
    other_seed = train(
        compose_train(quick_overrides("model=lstm", "seed=8"), output_dir=tmp_path / "c")
    )
    assert (tmp_path / "a" / "metrics.json").read_text() == (
        tmp_path / "b" / "metrics.json"
    ).read_text()
    assert first == second
    assert first != other_seed


def test_binary_average_and_class_weights_train(tmp_path):
    metrics = train(
        compose_train(
            quick_overrides(
                "model=rnn",
                "metrics.average=binary",
                "optim.class_weights=[1.0,2.0]",
                "optim.scheduler=cosine",
                "optim.name=sgd",
            ),
            output_dir=tmp_path,
        )
    )
    assert set(metrics) == EXPECTED_KEYS


LR_MONITOR = "+callbacks.extra.lr._target_=lightning.pytorch.callbacks.LearningRateMonitor"


def test_a_callback_added_by_config_alone_runs(tmp_path):
    config = compose_train(quick_overrides("trainer.max_epochs=2", LR_MONITOR), tmp_path)
    train(config)
    (log,) = tmp_path.glob("csv/**/metrics.csv")
    header = log.read_text().splitlines()[0].split(",")
    assert any(column.startswith("lr-") for column in header), header


def test_an_extra_callback_without_a_target_is_one_config_error(tmp_path):
    with pytest.raises(SeqlabError, match=r"callbacks\.extra\.lr needs a _target_"):
        compose_train(["+callbacks.extra.lr.logging_interval=epoch"], tmp_path)


def test_an_extra_callback_that_is_no_callback_is_one_error(tmp_path):
    overrides = quick_overrides("+callbacks.extra.bad._target_=collections.OrderedDict")
    with pytest.raises(
        SeqlabError, match=r"callbacks\.extra\.bad: collections\.OrderedDict is not"
    ):
        train(compose_train(overrides, tmp_path))
