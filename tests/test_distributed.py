"""DDP with two CPU processes (gloo), run as subprocesses: exact metrics, one of each output per
job, Hydra multirun with DDP, ddp_spawn refused."""

import json
from pathlib import Path

import pytest

from conftest import evaluate_cli, run_cli

pytestmark = [pytest.mark.slow, pytest.mark.ddp]
QUIET = ["print_config=false", "callbacks.progress_bar=false", "print_parameters=false"]
# ItalyPowerDemand's 1029 test series split unevenly over two processes and 16-series batches;
# with a validation part (its 67 training series would otherwise all train: data.protocol=auto).
DATA = ["data.name=ItalyPowerDemand", "data.batch_size=16", "data.protocol=val_split"]


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory) -> Path:
    run_dir = tmp_path_factory.mktemp("single") / "run"
    result = run_cli(
        "seqlab.cli.train",
        *DATA,
        *QUIET,
        "model=gru",
        "trainer.max_epochs=3",
        "logger=csv",
        f"hydra.run.dir={run_dir}",
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return next((run_dir / "checkpoints").glob("epoch*.ckpt"))


@pytest.mark.parametrize("split", ["test", "val"])
def test_two_processes_give_the_single_process_metrics(checkpoint, tmp_path, split):
    single = evaluate_cli(checkpoint, tmp_path / "single", f"split={split}")
    ddp = evaluate_cli(checkpoint, tmp_path / "ddp", f"split={split}", "trainer=ddp_cpu")
    assert set(single) == set(ddp) and all(k.startswith(f"{split}/") for k in single)
    for name in single:
        assert ddp[name] == pytest.approx(single[name], abs=1e-6), name


def test_ddp_training_writes_one_of_each(tmp_path):
    run_dir = tmp_path / "run"
    result = run_cli(
        "seqlab.cli.train",
        *DATA,
        "print_config=true",
        "callbacks.progress_bar=false",
        "trainer=ddp_cpu",
        "trainer.max_epochs=2",
        f"hydra.run.dir={run_dir}",
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert len(list((run_dir / "wandb").glob("offline-run-*"))) == 1
    checkpoints = sorted(p.name for p in (run_dir / "checkpoints").iterdir())
    assert len(checkpoints) == 2 and checkpoints[-1] == "last.ckpt", checkpoints
    assert (run_dir / "metrics.json").is_file()
    assert result.stdout.count("metrics.json") == 1  # the final table, printed once
    assert result.stdout.count("config\n") == 1  # the config tree, printed once


def test_hydra_multirun_with_ddp(tmp_path):
    sweep = tmp_path / "sweep"
    result = run_cli(
        "seqlab.cli.train",
        "-m",
        *DATA,
        *QUIET,
        "trainer=ddp_cpu",
        "model=mlp,rnn",
        "trainer.max_epochs=1",
        f"hydra.sweep.dir={sweep}",
    )
    assert result.returncode == 0, result.stderr[-3000:]
    for job, cell in (("0", "mlp"), ("1", "rnn")):
        job_dir = sweep / job
        assert json.loads((job_dir / "metrics.json").read_text())["test/acc"] > 0
        assert len(list((job_dir / "wandb").glob("offline-run-*"))) == 1
        overrides = (job_dir / ".hydra" / "overrides.yaml").read_text()
        assert f"model={cell}" in overrides
    assert sorted(p.name for p in sweep.iterdir() if p.is_dir()) == ["0", "1"]


def test_ddp_spawn_is_refused_with_the_fix(tmp_path):
    result = run_cli(
        "seqlab.cli.train",
        *QUIET,
        "trainer=ddp_cpu",
        "trainer.strategy=ddp_spawn",
        f"hydra.run.dir={tmp_path}",
    )
    assert result.returncode == 2
    assert "use trainer.strategy=ddp" in result.stderr


def test_ddp_with_spaces_and_non_ascii_in_the_run_dir(tmp_path):
    """Issue 13 item 12: the second rank is relaunched with the run dir as a quoted override."""
    run_dir = tmp_path / "run dir ü, é=1"
    result = run_cli(
        "seqlab.cli.train",
        *QUIET,
        "data=memory",
        "data.length=8",
        "data.num_train=64",
        "data.num_val=32",
        "data.num_test=32",
        "data.batch_size=16",
        "model=gru",
        "trainer=ddp_cpu",
        "trainer.max_epochs=1",
        "logger=csv",
        "experiment_name='grüße aus seqlab'",
        f"hydra.run.dir='{run_dir}'",
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert (run_dir / "metrics.json").is_file()
    assert sorted(p.name for p in (run_dir / "checkpoints").iterdir())[-1] == "last.ckpt"


def test_cv_epochs_under_ddp_refits_the_epochs_every_process_chose(tmp_path):
    """protocol=cv_epochs under DDP: each fold's validation metric is synchronised, so both
    processes choose the same epoch count; the refit stops there on both (a process stopping
    elsewhere would hang the other) and one cv_epochs.json and one metrics.json are written."""
    run_dir = tmp_path / "run"
    result = run_cli(
        "seqlab.cli.train",
        "data.name=ItalyPowerDemand",
        "data.batch_size=16",
        "data.protocol=cv_epochs",
        "data.cv_folds=2",
        *QUIET,
        "trainer=ddp_cpu",
        "trainer.max_epochs=4",
        "logger=csv",
        f"hydra.run.dir={run_dir}",
    )
    assert result.returncode == 0, result.stderr[-3000:]
    choice = json.loads((run_dir / "cv_epochs.json").read_text())
    assert len(choice["folds"]) == 2 and len(choice["mean"]) == 4
    written = json.loads((run_dir / "metrics.json").read_text())
    assert written["protocol"] == "cv_epochs"
    assert written["protocol/epochs"] == written["protocol/cv_epochs"] == choice["epochs"]
    assert result.stdout.count(f"cv_epochs: {choice['epochs']} epochs") == 1
