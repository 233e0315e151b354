"""debug=<name>: lightning-hydra-template's debug configs, each run end to end on GunPoint."""

import csv
import json

import pytest

from conftest import compose_train, run_cli


def epochs_and_losses(run_dir) -> tuple[set[int], list[float]]:
    with open(run_dir / "csv" / "metrics.csv", newline="") as file:
        rows = list(csv.DictReader(file))
    trained = [r for r in rows if r.get("train/loss")]  # the test row comes after the last epoch
    return {int(r["epoch"]) for r in trained}, [float(r["train/loss"]) for r in trained]


def debug_run(tmp_path, name: str, *extra: str):
    run_dir = tmp_path / name
    result = run_cli(
        "seqlab.cli.train",
        "experiment=gunpoint_mlp",
        f"debug={name}",
        f"hydra.run.dir={run_dir}",
        "print_config=false",
        *extra,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert set(json.loads((run_dir / "metrics.json").read_text())) >= {"test/acc", "test/auroc"}
    return run_dir, result


@pytest.mark.parametrize("name", ["default", "fdr", "limit", "overfit", "profiler"])
def test_every_debug_config_is_one_cpu_process_without_wandb(name):
    config = compose_train(["experiment=gunpoint_mlp", f"debug={name}"])
    assert config.trainer["accelerator"] == "cpu"
    assert (config.trainer["devices"], config.trainer["num_nodes"]) == (1, 1)
    assert config.trainer["detect_anomaly"] is True
    assert config.logger.wandb.enabled is False
    assert config.task_name == "debug"


@pytest.mark.slow
def test_debug_default_trains_one_epoch_with_anomaly_detection(tmp_path):
    run_dir, result = debug_run(tmp_path, "default")
    assert epochs_and_losses(run_dir)[0] == {0}
    assert "detect_anomaly=True" in (run_dir / "train.log").read_text()


@pytest.mark.slow
def test_debug_fdr_runs_one_batch_and_writes_no_checkpoint(tmp_path):
    run_dir, _ = debug_run(tmp_path, "fdr")
    assert "fast_dev_run" in (run_dir / "train.log").read_text()
    assert not list(run_dir.glob("checkpoints/*.ckpt"))


@pytest.mark.slow
def test_debug_limit_runs_three_short_epochs(tmp_path):
    run_dir, _ = debug_run(tmp_path, "limit")
    epochs, losses = epochs_and_losses(run_dir)
    assert epochs == {0, 1, 2}
    assert (run_dir / "checkpoints" / "last.ckpt").is_file()


@pytest.mark.slow
def test_debug_overfit_drives_the_training_loss_down(tmp_path):
    run_dir, _ = debug_run(tmp_path, "overfit")
    epochs, losses = epochs_and_losses(run_dir)
    assert len(epochs) == 20
    assert losses[-1] < 0.5 * losses[0]


@pytest.mark.slow
def test_debug_profiler_writes_its_report_into_the_run_dir(tmp_path):
    run_dir, _ = debug_run(tmp_path, "profiler")
    assert "FIT Profiler Report" in (run_dir / "fit-profiler.txt").read_text()


def test_an_unknown_profiler_name_is_one_line(tmp_path):
    result = run_cli(
        "seqlab.cli.train",
        "experiment=gunpoint_mlp",
        "debug=profiler",
        "trainer.profiler=fancy",
        f"hydra.run.dir={tmp_path / 'run'}",
    )
    assert result.returncode == 2
    assert "trainer.profiler='fancy' is not a profiler; use one of simple" in result.stderr
