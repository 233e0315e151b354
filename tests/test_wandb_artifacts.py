"""W&B model artifacts (best, and last with log_model=all, logged once under DDP), the code
artifact (src/ and conf/) and the test-time prediction table, read back from an offline run with
W&B's own CLI; the table's order and cap; the log_model option's values."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from seqlab.config import WandbConfig
from seqlab.errors import SeqlabError
from seqlab.training.callbacks.prediction_table import SplitPredictionTable
from seqlab.training.wandb_artifacts import log_model_mode

from conftest import compose_train, corpus, run_cli, wandb_env, write_lines

BIN = Path(sys.executable).parent


def test_the_table_puts_the_most_confident_mistakes_first_and_is_capped(tmp_path):
    callback = SplitPredictionTable(tmp_path, ["neg", "pos"], rows=3, texts=["a", "b", "c", "d"])
    probabilities = np.array([[0.9, 0.1], [0.4, 0.6], [0.2, 0.8], [0.7, 0.3]])
    labels = np.array([0, 0, 0, 1])
    table = callback.table(np.array([0, 1, 2, 3]), probabilities, labels)
    assert list(table["id"]) == [2, 3, 1]  # wrong, lowest probability of the true class first
    assert list(table["text"]) == ["c", "d", "b"]
    assert list(table["predicted"]) == ["pos", "neg", "pos"]


@pytest.mark.parametrize("value", ["best", "all", "false", False])
def test_log_model_takes_best_all_or_false(value):
    overrides = [f"logger.wandb.log_model={str(value).lower()}"]
    config = compose_train(overrides)
    assert log_model_mode(config.logger.wandb) == str(value).lower()


def test_a_bad_log_model_value_names_the_choices():
    with pytest.raises(SeqlabError, match="use one of best, all, false"):
        log_model_mode(WandbConfig(log_model="sometimes"))


def records(run_dir: Path) -> list[dict]:
    (offline_run,) = (run_dir / "wandb").glob("offline-run-*")
    result = subprocess.run(
        [str(BIN / "wandb"), "leet", "inspect", "--json", str(offline_run)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return [json.loads(line) for line in result.stdout.splitlines() if line.strip()]


@pytest.mark.slow
@pytest.mark.ddp
def test_ddp_run_logs_model_code_and_table_artifacts_once(tmp_path):
    write_lines(tmp_path / "train.txt", corpus(80))
    write_lines(tmp_path / "test.txt", corpus(15, seed=1))
    run_dir = tmp_path / "run"
    result = run_cli(
        "seqlab.cli.train",
        "data=text",
        f"data.root={tmp_path}",
        "data.train_file=train.txt",
        "data.test_file=test.txt",
        "data.batch_size=8",
        "model=gru",
        "model.hidden_size=8",
        "model.embedding_dim=8",
        "trainer=ddp_cpu",
        "trainer.max_epochs=2",
        "logger.wandb.log_model=all",
        "logger.wandb.prediction_rows=5",
        "print_config=false",
        "callbacks.progress_bar=false",
        f"hydra.run.dir={run_dir}",
        env={**wandb_env(tmp_path / "wandb_home"), "WANDB_MODE": ""},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    artifacts = [r["artifact"] for r in records(run_dir) if r["type"] == "artifact"]
    models = [a for a in artifacts if a["type"] == "model"]
    assert [sorted(a["aliases"]) for a in models] == [["best", "latest"], ["last", "latest"]]
    assert [a["name"] for a in models] == [models[0]["name"]] * 2  # two versions of one
    metadata = json.loads(models[0]["metadata"])
    assert (
        metadata["metrics"]["test/acc"]
        == json.loads((run_dir / "metrics.json").read_text())["test/acc"]
    )
    assert metadata["config"]["model"]["cell"] == "gru"
    (code,) = [a for a in artifacts if a["type"] == "code"]
    paths = {entry["path"] for entry in code["manifest"]["contents"]}
    assert "src/seqlab/training/pipeline.py" in paths and "conf/train.yaml" in paths
    tables = [a for a in artifacts if a["type"] == "run_table"]
    assert [a["name"].split("-")[2] for a in tables].count("testpredictions") == 1
    table = pd.read_csv(run_dir / "plots" / "predictions_test.csv")
    assert list(table.columns) == ["id", "true", "predicted", "p_true", "text"]
    assert len(table) == 5 and table["id"].is_unique
