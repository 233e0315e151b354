"""task=generate runs as commands, on a small synthetic purchase log: metrics.json holds the
futures, BG/NBD and buyer metrics; a killed run resumes to the uninterrupted result;
seqlab-generate writes seeded samples."""

import json
import math
import os
import shutil
import signal
import time
from pathlib import Path

import pandas as pd
import pytest

from seqlab.training.callbacks.gradients import RESULTS_FILE

from conftest import run_cli, start_train, synthetic_events, wandb_env

pytestmark = pytest.mark.slow
QUIET = ["print_config=false", "callbacks.progress_bar=false", "print_parameters=false"]


@pytest.fixture(scope="module")
def futures_log(tmp_path_factory) -> list[str]:
    """The overrides of a generate run on a synthetic log, its cutoff 13 weeks after its
    first day."""
    events = synthetic_events(entities=150)
    path = tmp_path_factory.mktemp("log") / "events.csv"
    events.to_csv(path, index=False)
    cutoff = pd.to_datetime(events["ts"]).min().normalize() + pd.Timedelta(weeks=13)
    return [
        "experiment=cdnow_futures_lstm",
        f"data.path={path}",
        "data.columns.entity=customer",
        "data.columns.time=ts",
        "data.columns.numeric=[amount]",
        "data.time_format=auto",
        f"data.cutoff.time={cutoff.date()}",
        "data.label.window=null",
        "data.batch_size=4",
        "model.hidden_size=8",
        "task.samples=20",
        "trainer.max_epochs=4",
        *QUIET,
    ]


@pytest.fixture(scope="module")
def finished(futures_log, tmp_path_factory) -> Path:
    run_dir = tmp_path_factory.mktemp("full") / "run"
    result = run_cli(
        "seqlab.cli.train",
        *futures_log,
        "logger=default",  # CSV and W&B offline
        f"hydra.run.dir={run_dir}",
        env=wandb_env(tmp_path_factory.mktemp("wandb_home")),
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return run_dir


def test_metrics_json_holds_futures_bgnbd_and_buyer_metrics(finished):
    metrics = json.loads((finished / "metrics.json").read_text())
    for key in (
        "futures/aggregate_error_pct",
        "futures/mae",
        "futures_sampled/mae",
        "bgnbd/aggregate_error_pct",
        "bgnbd/mae",
        *(f"test/{name}" for name in ("acc", "precision", "recall", "f1", "auroc", "loss")),
        "val/loss_best",
    ):
        assert key in metrics, key
    assert metrics["futures/actual"] == metrics["bgnbd/actual"] > 0
    # the expectations and the draws estimate the same total
    assert metrics["futures/predicted"] == pytest.approx(
        metrics["futures_sampled/predicted"], rel=0.2
    )
    assert 0.0 <= metrics["test/auroc"] <= 1.0
    for plot in ("futures_weekly.png", "futures_cumulative.png"):
        assert (finished / "plots" / plot).stat().st_size > 0
    media = next(finished.glob("wandb/offline-run-*/files/media"))
    for chart in ("weekly", "cumulative"):
        assert list(media.glob(f"table/futures/{chart}_*.json")), f"no W&B {chart} chart"
    assert len(list(media.glob("images/futures/*.png"))) == 2


def test_gradient_diagnostics_follow_the_decoder(finished):
    """Issue #16: the gradient diagnostics and their charts work for a decoder too; its
    ||dL/dh_t|| curve covers every week of the sequence."""
    import torch

    results = json.loads((finished / "gradients" / RESULTS_FILE).read_text())
    checkpoint = next((finished / "checkpoints").glob("epoch*.ckpt"))
    weeks = torch.load(checkpoint, weights_only=False)["hyper_parameters"]["meta"]["max_length"]
    assert results["steps"] and weeks > 13
    for curves in results["hidden"]:
        assert len(curves["l0"]) == weeks
        assert all(math.isfinite(value) and value > 0 for value in curves["l0"])
    assert {"ih_l0", "hh_l0", "head", "global", "global_clipped"} <= set(results["norms"][0])
    media = next(finished.glob("wandb/offline-run-*/files/media"))
    assert list(media.glob("table/grad_norm/dh_l0_*.json")), "no ||dL/dh_t|| chart in W&B"


@pytest.mark.ddp
def test_two_processes_test_and_sample_as_one_does(futures_log, finished, tmp_path):
    """The finished one-process run, resumed under DDP (two CPU processes, gloo) with nothing
    left to train: each rank tests its share of the test entities and rank 0 alone samples
    the futures, so metrics.json is the one-process file, the teacher-forced loss to 1e-6."""
    run_dir = tmp_path / "run"
    shutil.copytree(finished / "checkpoints", run_dir / "checkpoints")
    result = run_cli(
        "seqlab.cli.train",
        *futures_log,
        "logger=csv",
        "trainer=ddp_cpu",
        "resume=auto",
        f"hydra.run.dir={run_dir}",
    )
    assert result.returncode == 0, result.stderr[-3000:]
    single = json.loads((finished / "metrics.json").read_text())
    ddp = json.loads((run_dir / "metrics.json").read_text())
    assert ddp.keys() == single.keys() and "futures/mae" in ddp
    assert ddp["test/loss"] == pytest.approx(single["test/loss"], abs=1e-6)
    assert {k: v for k, v in ddp.items() if k != "test/loss"} == {
        k: v for k, v in single.items() if k != "test/loss"
    }
    # one rank sampled, one wrote the table (rank 1 prints to the same stdout)
    assert result.stdout.count("futures: ") == 1
    assert result.stdout.count("metrics.json") == 1
    written = sorted(p.relative_to(run_dir).as_posix() for p in run_dir.rglob("*") if p.is_file())
    assert [p for p in written if p.startswith("plots/")] == [
        "plots/futures_cumulative.png",
        "plots/futures_weekly.png",
    ]
    assert not [p for p in written if p.endswith(".tmp")]


def test_a_killed_generate_run_resumes_to_the_uninterrupted_result(futures_log, finished, tmp_path):
    runs = tmp_path / "runs"
    killed = runs / "killed"
    process = start_train(
        *futures_log, "logger=csv", "callbacks.checkpoint.last_every_s=0", f"hydra.run.dir={killed}"
    )
    last = killed / "checkpoints" / "last.ckpt"
    deadline = time.monotonic() + 600
    while not last.exists() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    assert last.exists() and not (killed / "metrics.json").exists()

    resumed = run_cli(
        "seqlab.cli.train", *futures_log, "logger=csv", "resume=auto", f"hydra.run.dir={runs}/r"
    )
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert f"resuming {killed}" in resumed.stdout
    uninterrupted = json.loads((finished / "metrics.json").read_text())
    assert json.loads((killed / "metrics.json").read_text()) == uninterrupted


def test_seqlab_generate_writes_seeded_samples(finished, tmp_path):
    checkpoint = next((finished / "checkpoints").glob("epoch*.ckpt"))

    def generate(name: str, *overrides: str) -> pd.DataFrame:
        result = run_cli(
            "seqlab.cli.generate",
            f"ckpt_path={checkpoint}",
            "n=7",
            f"hydra.run.dir={tmp_path / name}",
            *overrides,
        )
        assert result.returncode == 0, result.stderr[-3000:]
        assert not list((tmp_path / name).glob(".*.tmp"))
        return pd.read_csv(tmp_path / name / "samples.csv", dtype={"entity": str})

    first, again, other = generate("a"), generate("b"), generate("c", "seed=7")
    assert first.equals(again) and not first.equals(other)
    assert list(first.columns[:2]) == ["entity", "sample"]
    assert (first.groupby("entity")["sample"].nunique() == 7).all()
    weeks = first.columns[2:]
    assert len(weeks) > 0 and first[weeks].ge(0).all().all()


def test_seqlab_generate_refuses_a_classifier_checkpoint(tmp_path):
    from seqlab.config import GenerateConfig
    from seqlab.errors import SeqlabError
    from seqlab.training.generate import generate

    path = tmp_path / "fake.ckpt"
    import torch

    hparams = {k: {"name": "classify"} for k in ("model", "meta", "optim", "metrics", "data")}
    torch.save({"hyper_parameters": {**hparams, "task": {"name": "classify"}}}, path)
    with pytest.raises(SeqlabError, match="samples nothing"):
        generate(GenerateConfig(ckpt_path=str(path)))


def test_seqlab_eval_scores_a_generate_checkpoint_as_its_run_did(finished, tmp_path):
    """The best checkpoint evaluated with the run's seed: the teacher-forced test loss, the
    futures against BG/NBD and the buyer metrics of the training run's metrics.json."""
    checkpoint = next((finished / "checkpoints").glob("epoch*.ckpt"))
    result = run_cli(
        "seqlab.cli.evaluate",
        f"ckpt_path={checkpoint}",
        "logger=csv",
        f"hydra.run.dir={tmp_path / 'eval'}",
        "seed=42",  # the training run's
    )
    assert result.returncode == 0, result.stderr[-3000:]
    evaluated = json.loads((tmp_path / "eval" / "metrics.json").read_text())
    trained = json.loads((finished / "metrics.json").read_text())
    scored = [k for k in trained if k.split("/")[0] in ("test", "futures", "bgnbd")]
    assert "futures/mae" in scored and "test/loss" in scored
    for key in scored:
        assert evaluated[key] == pytest.approx(trained[key], rel=1e-6, abs=1e-9, nan_ok=True), key
    assert (tmp_path / "eval" / "plots").is_dir()


@pytest.mark.parametrize(
    "command", ["seqlab.cli.evaluate", "seqlab.cli.predict", "seqlab.cli.export"]
)
def test_commands_for_classifiers_refuse_a_generate_checkpoint_in_one_line(
    finished, command, tmp_path
):
    checkpoint = next((finished / "checkpoints").glob("epoch*.ckpt"))
    extra = {
        "seqlab.cli.evaluate": ["input=unused.csv"],  # a labelled file is classified
        "seqlab.cli.predict": ["input=unused.csv"],
        "seqlab.cli.export": ["format=onnx"],
    }
    result = run_cli(
        command,
        f"ckpt_path={checkpoint}",
        f"hydra.run.dir={tmp_path / 'out'}",
        *extra.get(command, []),
    )
    assert result.returncode == 2
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "a task=generate checkpoint" in lines[0], result.stderr[-2000:]
    assert "seqlab-generate" in lines[0]
