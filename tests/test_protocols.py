"""The tiny-set protocols of data=ucr (data.protocol) and ensemble.seeds: which protocol runs,
that TEST never moves anything before the final test, that the cv_epochs refit trains the chosen
epochs on all of TRAIN, and that an ensemble's probabilities are its members' mean."""

import csv
import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from seqlab.config import CheckpointConfig, EvalSplit, MonitorMode
from seqlab.data.registry import build_datamodule
from seqlab.models.modules import labelling, load_module
from seqlab.training import run as built_run
from seqlab.training.pipeline import train
from seqlab.training.protocols import EpochChoice, choose_epochs

from conftest import compose_train, corpus, quick_overrides, write_lines

TRAIN_SERIES, BATCH = 40, 8  # all of TRAIN: 5 batches an epoch; 80 % of it: 4


def toy_rows(count: int, seed: int, flip: bool = False) -> list[str]:
    """Two classes of noisy series (a rising and a falling ramp); `flip` swaps every label."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(count):
        label = 1 + i % 2
        ramp = np.linspace(-1, 1, 12) * (1 if label == 1 else -1)
        values = ramp + rng.normal(0, 0.8, 12)
        written = 3 - label if flip else label
        rows.append(f"{written} " + " ".join(f"{v:.4f}" for v in values))
    return rows


@pytest.fixture
def toy_root(tmp_path):
    def write(folder: str, flip_test: bool = False) -> Path:
        root = tmp_path / folder
        root.mkdir()
        (root / "Toy_TRAIN").write_text("\n".join(toy_rows(TRAIN_SERIES, 0)) + "\n")
        (root / "Toy_TEST").write_text("\n".join(toy_rows(30, 1, flip_test)) + "\n")
        return root

    return write


def toy_config(root: Path, run_dir: Path, *extra: str) -> dict:
    overrides = quick_overrides(
        "model=mlp",
        "data.name=Toy",
        f"data.root={root}",
        f"data.batch_size={BATCH}",
        "trainer.max_epochs=6",
        "callbacks.gradients.enabled=false",
        *extra,
    )
    return compose_train(overrides, run_dir)


def checkpoint_of(run_dir: Path) -> Path:
    (path,) = (run_dir / "checkpoints").glob("epoch*.ckpt")
    return path


def test_auto_picks_the_tiny_protocol_below_the_threshold(toy_root):
    root = str(toy_root("data"))
    options = {"kind": "ucr", "name": "Toy", "root": root}
    tiny = build_datamodule({**options, "protocol": "auto", "tiny_threshold": TRAIN_SERIES + 1})
    large = build_datamodule({**options, "protocol": "auto", "tiny_threshold": TRAIN_SERIES})
    for module in (tiny, large):
        module.setup("fit")
    assert tiny.protocol in ("train_loss", "cv_epochs")
    assert not tiny.has_validation and len(tiny.splits["train"]) == TRAIN_SERIES
    assert large.protocol == "val_split" and large.has_validation
    assert len(large.splits["train"]) + len(large.splits["val"]) == TRAIN_SERIES


def test_folds_cover_train_once_and_keep_test_apart(toy_root):
    module = build_datamodule({"kind": "ucr", "name": "Toy", "root": str(toy_root("data"))})
    module.setup("fit")
    held_out = []
    for index in range(5):
        fold = module.fold(index)
        fold.setup("fit")
        assert len(fold.splits["train"]) + len(fold.splits["val"]) == TRAIN_SERIES
        assert torch.equal(fold.splits["test"].labels, module.splits["test"].labels)
        held_out.append(len(fold.splits["val"]))
    assert sum(held_out) == TRAIN_SERIES


def test_choose_epochs_takes_the_best_mean_then_the_tie_breaker(toy_root):
    module = build_datamodule({"kind": "ucr", "name": "Toy", "root": str(toy_root("data"))})
    module.setup("fit")
    curves = iter(
        [
            {"val/f1": [0.5, 0.9, 0.9, 0.8], "val/loss": [0.7, 0.4, 0.3, 0.5]},
            {"val/f1": [0.5, 0.7, 0.7, 0.9], "val/loss": [0.7, 0.5, 0.4, 0.2]},
        ]
    )

    def fake_fit(fold, history):
        history.values.update(next(curves))

    checkpoint = CheckpointConfig(monitor="val/f1", mode=MonitorMode.max, tie_breaker="val/loss")
    choice = choose_epochs(module, 2, checkpoint, fake_fit)
    # mean f1: 0.5, 0.8, 0.8, 0.85 -> epoch 4; without it, 2 and 3 tie and the lower loss wins
    assert choice.epochs == 4
    curves = iter(
        [
            {"val/f1": [0.5, 0.9, 0.9], "val/loss": [0.7, 0.4, 0.3]},
            {"val/f1": [0.5, 0.7, 0.7], "val/loss": [0.7, 0.5, 0.4]},
        ]
    )
    assert choose_epochs(module, 2, checkpoint, fake_fit).epochs == 3


@pytest.mark.slow
@pytest.mark.parametrize("protocol", ["cv_epochs", "train_loss"])
def test_test_labels_move_nothing_before_the_test(tmp_path, toy_root, protocol):
    """The same run on TEST files that differ only in their labels: the chosen epochs, the
    tested weights and every logged training value are the same; only the test differs."""
    runs = {}
    for name, flip in (("kept", False), ("flipped", True)):
        run_dir = tmp_path / f"run_{name}"
        config = toy_config(toy_root(name, flip_test=flip), run_dir, f"data.protocol={protocol}")
        metrics = train(config)
        runs[name] = (run_dir, metrics)
    (kept_dir, kept), (flipped_dir, flipped) = runs["kept"], runs["flipped"]
    assert kept["test/acc"] == pytest.approx(1 - flipped["test/acc"])  # TEST did change
    if protocol == "cv_epochs":
        assert (kept_dir / "cv_epochs.json").read_text() == (
            flipped_dir / "cv_epochs.json"
        ).read_text()
    a = torch.load(checkpoint_of(kept_dir), weights_only=True)
    b = torch.load(checkpoint_of(flipped_dir), weights_only=True)
    assert a["epoch"] == b["epoch"] and a["global_step"] == b["global_step"]
    for key, value in a["state_dict"].items():
        assert torch.equal(value, b["state_dict"][key]), key
    train_log = [_train_rows(d) for d in (kept_dir, flipped_dir)]
    assert train_log[0] == train_log[1] and train_log[0]


def _train_rows(run_dir: Path) -> list[dict[str, str]]:
    with open(run_dir / "csv" / "metrics.csv") as handle:
        rows = list(csv.DictReader(handle))
    return [
        {k: v for k, v in row.items() if not k.startswith("test/")}
        for row in rows
        if row.get("train/loss")
    ]


@pytest.mark.slow
def test_the_refit_trains_the_chosen_epochs_on_all_of_train(tmp_path, toy_root, monkeypatch):
    """With 3 of 6 epochs chosen: the tested weights are those after epoch 3 of a fit over all 40
    TRAIN series (5 batches an epoch), under the learning-rate schedule of all 6 epochs."""
    chosen = 3

    def choose(datamodule, folds, checkpoint, fit_fold):
        return EpochChoice(chosen, checkpoint.monitor, [0.0] * 6, [])

    monkeypatch.setattr(built_run, "choose_epochs", choose)
    run_dir = tmp_path / "run"
    config = toy_config(toy_root("data"), run_dir, "data.protocol=cv_epochs", "optim.lr=0.01")
    train(config)
    checkpoint = torch.load(checkpoint_of(run_dir), weights_only=True)
    assert checkpoint["epoch"] == chosen - 1
    assert checkpoint["global_step"] == chosen * math.ceil(TRAIN_SERIES / BATCH)
    # the schedule is in last.ckpt (the best file holds weights only), of the same epoch
    last = torch.load(run_dir / "checkpoints" / "last.ckpt", weights_only=True)
    assert last["global_step"] == checkpoint["global_step"]
    assert all(torch.equal(v, last["state_dict"][k]) for k, v in checkpoint["state_dict"].items())
    (scheduler,) = last["lr_schedulers"]
    assert scheduler["T_max"] == 6 and scheduler["last_epoch"] == chosen
    written = json.loads((run_dir / "metrics.json").read_text())
    assert written["protocol"] == "cv_epochs" and written["protocol/epochs"] == chosen


@pytest.mark.slow
def test_a_real_cv_epochs_run_refits_what_its_folds_chose(tmp_path, toy_root):
    run_dir = tmp_path / "run"
    config = toy_config(toy_root("data"), run_dir, "data.protocol=cv_epochs", "data.cv_folds=3")
    train(config)
    choice = json.loads((run_dir / "cv_epochs.json").read_text())
    assert len(choice["folds"]) == 3 and len(choice["mean"]) == 6
    best = max(choice["mean"])
    assert choice["mean"][choice["epochs"] - 1] == best
    checkpoint = torch.load(checkpoint_of(run_dir), weights_only=True)
    assert checkpoint["global_step"] == choice["epochs"] * math.ceil(TRAIN_SERIES / BATCH)


@pytest.mark.slow
def test_a_resumed_cv_epochs_run_refits_without_rerunning_its_folds(
    tmp_path, toy_root, monkeypatch
):
    """Stopped after 2 of the 4 chosen refit epochs and resumed: the choice comes from
    cv_epochs.json (no fold runs again) and the run ends as the uninterrupted one did."""
    chosen, root = 4, toy_root("data")

    def choose(datamodule, folds, checkpoint, fit_fold):
        return EpochChoice(chosen, checkpoint.monitor, [0.0] * 6, [])

    monkeypatch.setattr(built_run, "choose_epochs", choose)
    extra = ("data.protocol=cv_epochs", "optim.lr=0.01")
    whole = train(toy_config(root, tmp_path / "whole", *extra))

    run_dir = tmp_path / "stopped"
    stop_at = built_run.StopAfterEpochs
    monkeypatch.setattr(built_run, "StopAfterEpochs", lambda epochs: stop_at(2))
    train(toy_config(root, run_dir, *extra))
    last = torch.load(run_dir / "checkpoints" / "last.ckpt", weights_only=True)
    assert last["global_step"] == 2 * math.ceil(TRAIN_SERIES / BATCH)

    def no_folds(*args):
        raise AssertionError("a resumed cv_epochs run ran its folds again")

    monkeypatch.setattr(built_run, "StopAfterEpochs", stop_at)
    monkeypatch.setattr(built_run, "choose_epochs", no_folds)
    config = toy_config(root, run_dir, *extra)
    config.resume = "auto"
    resumed = train(config)
    assert {k: v for k, v in resumed.items() if k.startswith("test/")} == {
        k: v for k, v in whole.items() if k.startswith("test/")
    }
    written = json.loads((run_dir / "metrics.json").read_text())
    assert written["protocol/epochs"] == written["protocol/cv_epochs"] == chosen


def member_probabilities(member_dir: Path, split: str) -> tuple[torch.Tensor, torch.Tensor]:
    """A member's probabilities on `split`, from its checkpoint and a fresh data module."""
    module, _ = load_module(str(checkpoint_of(member_dir)), labelling)
    data = build_datamodule(module.hparams["data"])
    data.setup("fit")
    dataset = data.splits[split]
    module.eval()
    with torch.no_grad():
        batch = dataset[list(range(len(dataset)))]
        return module(batch).softmax(-1), batch.labels


def read_probabilities(path: Path) -> np.ndarray:
    with open(path) as handle:
        return np.array([[float(v) for v in row[1:]] for row in list(csv.reader(handle))[1:]])


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["ucr", "text"])
def test_ensemble_probabilities_are_the_members_mean(tmp_path, toy_root, kind):
    run_dir = tmp_path / "run"
    if kind == "ucr":
        config = toy_config(
            toy_root("data"), run_dir, "ensemble.seeds=[3,5]", "data.protocol=val_split"
        )
    else:
        write_lines(tmp_path / "train.txt", corpus(80))
        write_lines(tmp_path / "test.txt", corpus(30, seed=1))
        text = ["data=text", f"data.root={tmp_path}", "data.train_file=train.txt"]
        text += ["data.test_file=test.txt", f"data.cache_dir={tmp_path / 'cache'}"]
        config = compose_train(quick_overrides(*text, "model=gru", "ensemble.seeds=[3,5]"), run_dir)
    metrics = train(config)
    written = json.loads((run_dir / "metrics.json").read_text())
    for split in ("val", "test"):
        members = [member_probabilities(run_dir / "members" / f"seed{s}", split) for s in (3, 5)]
        mean = ((members[0][0] + members[1][0]) / 2).numpy()
        labels = members[0][1].numpy()
        assert np.allclose(read_probabilities(run_dir / f"ensemble_{split}.csv"), mean, atol=1e-6)
        assert written[f"{split}/acc"] == pytest.approx(float((mean.argmax(1) == labels).mean()))
        accs = [float((p.numpy().argmax(1) == labels).mean()) for p, _ in members]
        assert written[f"{split}/acc_members_mean"] == pytest.approx(np.mean(accs))
        assert written[f"{split}/acc_members_std"] == pytest.approx(np.std(accs, ddof=1))
    member_test = [
        json.loads((run_dir / "members" / f"seed{s}" / "metrics.json").read_text())["test/acc"]
        for s in (3, 5)
    ]
    assert metrics["test/acc_members_mean"] == pytest.approx(np.mean(member_test))


@pytest.mark.slow
def test_evaluating_val_of_a_run_without_validation_says_so(tmp_path, toy_root):
    from seqlab.errors import SeqlabError
    from seqlab.training.pipeline import evaluate

    from conftest import eval_config

    run_dir = tmp_path / "run"
    train(toy_config(toy_root("data"), run_dir, "data.protocol=train_loss"))
    config = eval_config(checkpoint_of(run_dir), tmp_path / "eval", split=EvalSplit.val)
    with pytest.raises(SeqlabError, match="keeps no validation part; evaluate split=test"):
        evaluate(config)
