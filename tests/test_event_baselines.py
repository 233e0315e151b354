"""Classical baselines, a short network training on an event log, and the comparison run."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hydra import compose, initialize_config_dir
from sklearn import metrics as sk

from seqlab import config_dir
from seqlab.baselines.classical import build_baseline, run_baselines, score
from seqlab.config import BaselinesConfig, CompareConfig, LogRegOptions, validate
from seqlab.data.registry import build_datamodule, data_config
from seqlab.errors import SeqlabError

from conftest import compose_train, events_config, quick_overrides


def composed(name: str, schema: type, overrides: list[str], output_dir, data: dict | None):
    with initialize_config_dir(config_dir=config_dir(), version_base="1.3"):
        cfg = compose(name, overrides=[*overrides, f"paths.output_dir={output_dir}"])
    config = validate(cfg, schema)
    if data is not None:
        config.data = data_config(data)
    return config


@pytest.mark.parametrize(
    ("data", "group"),
    [("events", "compare_cdnow"), ("cdnow", "compare_cdnow"), ("yoochoose", "compare_yoochoose")],
)
def test_every_event_config_composes_for_baselines_and_compare(data, group):
    with initialize_config_dir(config_dir=config_dir(), version_base="1.3"):
        baselines = compose("baselines", overrides=[f"data={data}", "paths.output_dir=x"])
        comparison = compose("compare", overrides=[f"data={data}", "paths.output_dir=x"])
    assert validate(baselines, BaselinesConfig).logger.wandb.job_type == "baseline"
    config = validate(comparison, CompareConfig)
    assert config.experiment_name == group
    assert config.seeds == [1, 2, 3] and config.models == ["mlp", "rnn", "lstm", "gru"]


@pytest.mark.parametrize("average", ["binary", "macro"])
def test_baseline_metrics_equal_sklearn_on_the_same_predictions(event_log, average):
    module = build_datamodule(events_config(event_log))
    parts = module.aggregate_splits()
    model = build_baseline("logreg", LogRegOptions(C=1.0, max_iter=500), seed=0)
    model.fit(parts["train"][0].to_numpy(), parts["train"][1])
    features, labels = parts["test"]
    probabilities = model.predict_proba(features.to_numpy())
    values = score(probabilities, labels, average, "test")
    predicted = probabilities.argmax(axis=1)
    expected = {
        "test/acc": sk.accuracy_score(labels, predicted),
        "test/precision": sk.precision_score(labels, predicted, average=average),
        "test/recall": sk.recall_score(labels, predicted, average=average),
        "test/f1": sk.f1_score(labels, predicted, average=average),
        "test/auroc": sk.roc_auc_score(labels, probabilities[:, 1]),
        "test/loss": sk.log_loss(labels, probabilities),
    }
    assert values == pytest.approx(expected, abs=1e-6)
    assert values["test/auroc"] > 0.6  # the synthetic history predicts the label


def test_aggregates_summarise_each_entitys_history(tmp_path):
    rows = [
        ("a", "2020-03-01", "view", "i1", 10.0),
        ("a", "2020-03-11", "buy", "i1", 30.0),
        ("a", "2020-03-31", "view", "i2", 20.0),
        ("a", "2020-04-05", "buy", "i9", 99.0),  # after the cutoff: not summarised
    ]
    rows += [(f"o{i}", "2020-03-15", "view", "i3", 1.0) for i in range(9)]
    rows += [(f"o{i}", "2020-04-15", "view", "i3", 1.0) for i in range(4)]
    path = tmp_path / "agg.csv"
    pd.DataFrame(rows, columns=["customer", "ts", "event", "item", "amount"]).to_csv(path)
    module = build_datamodule(events_config(path, val_fraction=0.25, test_fraction=0.25))
    table = pd.concat([x for x, _ in module.aggregate_splits().values()])
    a = table.loc[int(np.searchsorted(module.history.entities, "a"))]
    assert a["events"] == 3
    assert a["recency"] == pytest.approx(1.0)  # days from the last event to the cutoff
    assert a["tenure"] == pytest.approx(31.0)
    assert a["mean_gap"] == pytest.approx(15.0)
    assert a["amount_sum"] == 60.0 and a["amount_max"] == 30.0 and a["amount_last"] == 20.0
    assert a["item_distinct"] == 2 and a["item_repeat"] == pytest.approx(1 / 3)


def test_baselines_refuse_non_event_data(tmp_path):
    config = composed("baselines", BaselinesConfig, ["logger=csv"], tmp_path, data=None)
    config.data = compose_train([]).data  # data=ucr
    with pytest.raises(SeqlabError, match=r"baselines need event data"):
        run_baselines(config)


@pytest.mark.slow
def test_baselines_run_writes_metrics_per_baseline(event_log, tmp_path):
    config = composed(
        "baselines",
        BaselinesConfig,
        [
            "logger=csv",
            "baselines.tree.min_samples_leaf=5",
            "baselines.gboost.min_samples_leaf=5",
            "baselines.gboost.max_iter=20",  # OpenMP threads crawl on a loaded 2-core machine
        ],
        tmp_path,
        data=events_config(event_log),
    )
    results = run_baselines(config)
    assert json.loads((tmp_path / "metrics.json").read_text()) == results
    assert set(results) == {"logreg", "tree", "gboost"}
    for name, metrics in results.items():
        run_dir = tmp_path / f"{name}-seed42"
        assert json.loads((run_dir / "metrics.json").read_text()) == metrics
        assert {f"test/{m}" for m in ("acc", "precision", "recall", "f1", "auroc")} <= set(metrics)
        assert (run_dir / "csv" / "metrics.csv").is_file()
    assert results["gboost"]["test/auroc"] > 0.6


@pytest.mark.slow
def test_a_network_trains_on_an_event_log(event_log, tmp_path):
    config = compose_train(quick_overrides("model=gru"), output_dir=tmp_path)
    config.data = data_config(events_config(event_log))
    from seqlab.training.pipeline import train

    metrics = train(config)
    written = json.loads((tmp_path / "metrics.json").read_text())
    # how the run was done: event data always holds a validation part
    assert written.pop("protocol") == "val_split"
    assert 1 <= written.pop("protocol/epochs") <= 3
    assert written == metrics
    assert 0.0 <= metrics["test/auroc"] <= 1.0


@pytest.mark.slow
def test_compare_writes_table_chart_and_one_row_per_model(event_log, tmp_path):
    config = composed(
        "compare",
        CompareConfig,
        [
            "seeds=[1,2]",
            "models=[gru]",
            "baselines=[logreg]",
            "train.trainer.max_epochs=2",
            "experiment_name=compare_synthetic",
        ],
        tmp_path,
        data=events_config(event_log),
    )
    config.logger.csv = False
    table = compare_run(config)
    assert list(table["model"]) == ["logreg", "gru"]
    assert (table["seeds"] == 2).all()
    runs = pd.read_csv(tmp_path / "runs.csv")
    assert len(runs) == 4 and set(runs["seed"]) == {1, 2}
    logreg = runs[runs["model"] == "logreg"]["test/auroc"]
    assert table.loc[0, "auroc_mean"] == pytest.approx(logreg.mean())
    assert table.loc[0, "auroc_std"] == pytest.approx(logreg.std())
    written = pd.read_csv(tmp_path / "table.csv")
    assert list(written.columns[:3]) == ["model", "family", "seeds"]
    assert "| logreg | baseline | 2 |" in (tmp_path / "table.md").read_text()
    assert (tmp_path / "chart.png").read_bytes()[:4] == b"\x89PNG"
    # one W&B run for the comparison, one per baseline and network run, all in one group
    assert len(list(tmp_path.glob("wandb/offline-run-*"))) == 1
    assert len(list(tmp_path.glob("seed*/*/wandb/offline-run-*"))) == 2
    assert len(list(tmp_path.glob("seed*/baselines/*/wandb/offline-run-*"))) == 2
    for run_dir, job_type in [
        (tmp_path, "compare"),
        (tmp_path / "seed1/baselines/logreg-seed1", "baseline"),
        (tmp_path / "seed2/gru", "train"),
    ]:
        run = wandb_run_record(run_dir)
        assert (run["job_type"], run["run_group"]) == (job_type, "compare_synthetic")


def wandb_run_record(run_dir) -> dict:
    (offline_run,) = run_dir.glob("wandb/offline-run-*")
    result = subprocess.run(
        [str(Path(sys.executable).parent / "wandb"), "leet", "inspect", "--json", str(offline_run)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    records = [json.loads(line) for line in result.stdout.splitlines() if line.strip()]
    return next(r["run"] for r in records if r.get("type") == "run")


def compare_run(config: dict) -> pd.DataFrame:
    from seqlab.training.compare import compare

    return compare(config)
