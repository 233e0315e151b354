"""The command line end to end: seqlab-train with offline W&B read back by W&B's own CLI,
seqlab-eval, bad checkpoints, and an installed wheel that finds its configs anywhere."""

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import REPO_ROOT, run_cli, wandb_env, wandb_inspect

pytestmark = pytest.mark.slow
BIN = Path(sys.executable).parent


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory) -> tuple[Path, subprocess.CompletedProcess]:
    run_dir = tmp_path_factory.mktemp("cli") / "run"
    env = wandb_env(tmp_path_factory.mktemp("wandb_home"))
    result = run_cli(
        "seqlab.cli.train",
        "model=gru",
        "trainer.max_epochs=2",
        "data.protocol=val_split",  # the run's val/*_best are checked below
        "callbacks.progress_bar=false",
        "logger.wandb.tags=[ci,smoke]",
        f"hydra.run.dir={run_dir}",
        env={**env, "WANDB_MODE": ""},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return run_dir, result


def test_the_run_writes_everything_into_its_run_dir(trained_run):
    run_dir, result = trained_run
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert {"test/f1", "test/auroc", "val/f1_best"} <= set(metrics)
    assert len(list((run_dir / "wandb").glob("offline-run-*"))) == 1
    assert (run_dir / "csv" / "metrics.csv").is_file()
    assert (run_dir / ".hydra" / "config.yaml").is_file()
    assert "cell: 'gru'" in result.stdout  # the config tree printed at start
    assert "test/f1" in result.stdout  # the final metrics table


def test_lightning_messages_and_the_parameter_table_appear_once(trained_run):
    run_dir, result = trained_run
    output = result.stdout + result.stderr
    assert output.count("`Trainer.fit` stopped") == 1  # Lightning's handler and Hydra's both
    assert "`Trainer.fit` stopped" in (run_dir / "train.log").read_text()  # still in the file
    assert output.count("parameters (exact, trainable)") == 1
    assert "Trainable params" not in output  # Lightning's own summary repeated the table


def test_offline_wandb_run_holds_the_logged_test_f1(trained_run):
    run_dir, _ = trained_run
    metrics = json.loads((run_dir / "metrics.json").read_text())
    summary = json.loads(wandb_inspect(run_dir, "--summary"))
    assert summary["summary"]["test/f1"] == pytest.approx(metrics["test/f1"], abs=1e-7)
    assert summary["summary"]["val/f1_best"] == pytest.approx(metrics["val/f1_best"], abs=1e-7)
    config = summary["config"]
    assert config["model.cell"] == "gru"  # resolved, flat hyperparameters
    assert config["data.split_seed"] == 42
    assert config["meta.num_classes"] == 2


def test_test_plots_are_pngs_in_the_run_dir_and_wandb_charts(trained_run):
    run_dir, _ = trained_run
    for name in ("roc_curve.png", "pr_curve.png", "confusion_matrix.png"):
        assert (run_dir / "plots" / name).read_bytes()[:4] == b"\x89PNG"
    summary = json.loads(wandb_inspect(run_dir, "--summary"))["summary"]
    for chart in ("test/roc_curve_table", "test/pr_curve_table", "test/confusion_matrix_table"):
        assert summary[chart]["_type"] == "table-file"


def test_wandb_summaries_hold_the_best_epoch(trained_run):
    """define_metric: val/f1 and val/auroc keep their max, val/loss its min, over epochs."""
    run_dir, _ = trained_run
    summary = json.loads(wandb_inspect(run_dir, "--summary"))["summary"]
    history = list(csv.DictReader((run_dir / "csv" / "metrics.csv").open()))
    for name, best in (("val/f1", max), ("val/auroc", max), ("val/loss", min)):
        values = [float(row[name]) for row in history if row.get(name)]
        goal = "max" if best is max else "min"
        assert summary[name][goal] == pytest.approx(best(values), abs=1e-6)


def test_offline_wandb_run_carries_group_job_type_and_tags(trained_run):
    run_dir, _ = trained_run
    records = [json.loads(line) for line in wandb_inspect(run_dir).splitlines() if line.strip()]
    run = next(r["run"] for r in records if r.get("type") == "run")
    assert run["job_type"] == "train"
    assert run["run_group"] == "default"
    assert run["tags"] == ["ci", "smoke"]
    history = [r for r in records if r.get("type") == "history"]
    assert history, "no history records"
    # val/*_best is in the summary only, written once when fit ends
    assert not any("val/f1_best" in json.dumps(record) for record in history)
    # the gradient diagnostics' ||dL/dh_t|| curves, logged as W&B tables at the end of training
    (offline_run,) = (run_dir / "wandb").glob("offline-run-*")
    tables = {p.name for p in (offline_run / "files" / "media" / "table").rglob("*.json")}
    assert any("dh_l0" in name and "evolution" not in name for name in tables), tables
    assert any("dh_l0_evolution" in name for name in tables), tables


def test_seqlab_eval_rebuilds_the_model_from_the_checkpoint(trained_run, tmp_path):
    run_dir, _ = trained_run
    best = next((run_dir / "checkpoints").glob("epoch*.ckpt"))
    result = subprocess.run(
        [str(BIN / "seqlab-eval"), f"ckpt_path={best}", "logger=csv", f"hydra.run.dir={tmp_path}"],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    trained = json.loads((run_dir / "metrics.json").read_text())
    evaluated = json.loads((tmp_path / "metrics.json").read_text())
    assert evaluated == pytest.approx(
        {k: v for k, v in trained.items() if k.startswith("test/")}, abs=1e-7
    )


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "checkpoint not found"),
        (b"not a checkpoint at all", "not a readable checkpoint"),
    ],
)
def test_bad_checkpoints_fail_with_one_line(tmp_path, content, message):
    path = tmp_path / "model.ckpt"
    if content is not None:
        path.write_bytes(content)
    result = run_cli(
        "seqlab.cli.evaluate", f"ckpt_path={path}", f"hydra.run.dir={tmp_path}/out", timeout=120
    )
    assert result.returncode == 2
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and message in lines[0] and str(path) in lines[0], result.stderr
    if content is not None:
        assert path.read_bytes() == content  # nothing overwritten


def test_a_foreign_checkpoint_is_refused(tmp_path):
    import torch

    path = tmp_path / "other.ckpt"
    torch.save({"state_dict": {"w": torch.zeros(2)}, "hyper_parameters": {"lr": 0.1}}, path)
    result = run_cli(
        "seqlab.cli.evaluate", f"ckpt_path={path}", f"hydra.run.dir={tmp_path}/out", timeout=120
    )
    assert result.returncode == 2
    assert "not a seqlab checkpoint" in result.stderr


def test_eval_without_ckpt_path_names_it():
    result = run_cli("seqlab.cli.evaluate", timeout=60)
    assert result.returncode != 0
    assert "ckpt_path" in result.stderr


def test_installed_wheel_finds_its_configs_from_any_folder(tmp_path):
    wheel_dir, target = tmp_path / "wheel", tmp_path / "site"
    build = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(wheel_dir),
            str(REPO_ROOT),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert build.returncode == 0, build.stderr
    (wheel,) = wheel_dir.glob("seqlab-*.whl")
    install = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--no-deps",
            "-q",
            "--target",
            str(target),
            str(wheel),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert install.returncode == 0, install.stderr
    assert (target / "seqlab" / "conf" / "train.yaml").is_file()
    result = subprocess.run(
        [sys.executable, "-m", "seqlab.cli.train", "--cfg", "job", "model=bigru"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": str(target)},
    )
    assert result.returncode == 0, result.stderr
    assert "bidirectional: true" in result.stdout
    assert (
        "seqlab/conf"
        in subprocess.run(
            [sys.executable, "-c", "import seqlab; print(seqlab.config_dir())"],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            env={**os.environ, "PYTHONPATH": str(target)},
        ).stdout
    )


def test_multirun_gives_one_wandb_run_and_run_dir_per_job(tmp_path):
    env = wandb_env(tmp_path / "wandb_home")
    result = run_cli(
        "seqlab.cli.train",
        "-m",
        "model=mlp,rnn",
        "trainer.max_epochs=1",
        "callbacks.progress_bar=false",
        "print_config=false",
        f"hydra.sweep.dir={tmp_path}/sweep",
        env=env,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    for job in ("0", "1"):
        job_dir = tmp_path / "sweep" / job
        assert (job_dir / "metrics.json").is_file()
        assert len(list((job_dir / "wandb").glob("offline-run-*"))) == 1
        records = [json.loads(line) for line in wandb_inspect(job_dir).splitlines() if line]
        run = next(r["run"] for r in records if r.get("type") == "run")
        assert run["run_group"] == "sweep"  # every job of a sweep: the sweep dir's name
