"""Every data config brings training defaults that suit it (conf/fit/<data>.yaml), with early
stopping on, so that any data x model pair ends in reasonable time; the shipped experiments keep
exactly the epochs their documented results ran."""

import json
from pathlib import Path

import pytest

from seqlab import config_dir
from seqlab.schema import plain

from conftest import DATA_CONFIGS, EXPERIMENTS, MODEL_CONFIGS, compose_train, quick_overrides

# (max_epochs, early-stopping patience) per data config: what docs/reliability-input.md lists.
DATA_DEFAULTS = {
    "ucr": (400, 100),
    "memory": (50, 10),
    "text": (20, 3),
    "r8": (20, 3),
    "sst2": (20, 3),
    "sms_spam": (20, 3),
    "events": (30, 3),
    "cdnow": (30, 3),
    "yoochoose": (30, 3),
}

# The epochs behind each shipped experiment's documented figures, every one of them run.
EXPERIMENT_EPOCHS = {
    "gunpoint_lstm": 400,
    "gunpoint_mlp": 400,
    "gunpoint_gru": 400,
    "ucr_gru": 400,
    "r8_bilstm": 10,
    "sst2_bilstm": 10,
    "sms_spam_gru": 8,
    "keras_lstm": 10,
    "cdnow_gru": 5,
    "cdnow_tag_gru": 8,
    "yoochoose_tag_gru": 5,
    "cdnow_futures_lstm": 20,
    "sms_generate_gru": 15,
    "memory_sweep": 20,
    "ucr_lstm_fcn": 1000,
}


def test_every_data_config_has_its_training_defaults():
    assert set(DATA_DEFAULTS) == set(DATA_CONFIGS)
    for data in DATA_CONFIGS:
        assert (Path(config_dir()) / "fit" / f"{data}.yaml").is_file(), data


@pytest.mark.parametrize("data", DATA_CONFIGS)
@pytest.mark.parametrize("model", MODEL_CONFIGS)
def test_any_data_and_model_pair_stops_early_within_the_data_epochs(data, model):
    config = compose_train([f"data={data}", f"model={model}"])
    epochs, patience = DATA_DEFAULTS[data]
    assert config.trainer["max_epochs"] == epochs
    assert plain(config.callbacks.early_stopping) == {"enabled": True, "patience": patience}


def test_an_override_still_wins_over_the_data_defaults():
    config = compose_train(
        ["data=cdnow", "trainer.max_epochs=7", "callbacks.early_stopping.patience=1"]
    )
    assert config.trainer["max_epochs"] == 7
    assert config.callbacks.early_stopping.patience == 1


@pytest.mark.parametrize("experiment", EXPERIMENTS)
def test_shipped_experiments_keep_the_epochs_of_their_documented_results(experiment):
    config = compose_train([f"experiment={experiment}"])
    assert config.trainer["max_epochs"] == EXPERIMENT_EPOCHS[experiment]
    assert config.callbacks.early_stopping.enabled is False


@pytest.mark.slow
def test_early_stopping_ends_a_run_that_stops_improving(tmp_path):
    from seqlab.training.pipeline import train

    overrides = quick_overrides(
        "model=gru",
        "model.hidden_size=8",
        "optim.lr=1e-9",  # nothing is learnt: the validation F1 never improves
        "optim.scheduler=none",
        "trainer.max_epochs=30",
        "callbacks.early_stopping.patience=2",
    )
    train(compose_train(overrides, output_dir=tmp_path))
    rows = (tmp_path / "csv" / "metrics.csv").read_text().splitlines()
    header = rows[0].split(",")
    epochs = {row.split(",")[header.index("epoch")] for row in rows[1:]}
    assert len(epochs) <= 5  # the best epoch, two more without improvement, and the test
    assert json.loads((tmp_path / "metrics.json").read_text())["test/acc"] >= 0
