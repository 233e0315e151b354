"""Config composition, the schema check, and the CLI's behaviour on bad overrides."""

from pathlib import Path

import pytest

from seqlab import config_dir
from seqlab.errors import SeqlabError

from conftest import DATA_CONFIGS, EXPERIMENTS, MODEL_CONFIGS, compose_train, run_cli

CONF = Path(config_dir())


def test_the_groups_the_project_promises_exist():
    assert {"ucr"} <= set(DATA_CONFIGS)
    assert {"mlp", "rnn", "lstm", "gru", "birnn", "bilstm", "bigru"} <= set(MODEL_CONFIGS)
    assert {"fcn", "lstm_fcn", "gru_fcn"} <= set(MODEL_CONFIGS)
    assert {"gunpoint_mlp", "gunpoint_lstm"} <= set(EXPERIMENTS)


@pytest.mark.parametrize("data", DATA_CONFIGS)
@pytest.mark.parametrize("model", MODEL_CONFIGS)
def test_every_data_and_model_pair_composes(data, model):
    config = compose_train([f"data={data}", f"model={model}"])
    assert config.data.kind == data or data != "ucr"
    assert config.model.kind in {"mlp", "recurrent", "fcn", "recurrent_fcn"}
    if model.startswith("bi"):
        assert config.model.bidirectional is True
        assert config.model.cell == model[2:]


@pytest.mark.parametrize("experiment", EXPERIMENTS)
def test_every_experiment_composes(experiment):
    config = compose_train([f"experiment={experiment}"])
    assert config.experiment_name == experiment


def test_model_bidirectional_override_works_on_any_cell():
    assert compose_train(["model=gru", "model.bidirectional=true"]).model.bidirectional


def test_no_dimension_is_typed_in_a_model_config():
    for path in (CONF / "model").glob("*.yaml"):
        text = path.read_text()
        for key in ("input_size", "num_classes", "num_features", "output_size"):
            assert key not in text, f"{path} hard-codes {key}"


def test_unknown_key_added_with_plus_is_rejected_with_a_suggestion():
    with pytest.raises(
        SeqlabError,
        match=r"unknown key model\.hiden_size; did you mean "
        r"model\.hidden_size\?",
    ):
        compose_train(["+model.hiden_size=32"])


def test_wrong_type_names_the_key():
    with pytest.raises(SeqlabError, match=r"model\.hidden_size"):
        compose_train(["model.hidden_size=big"])


def test_invalid_choice_names_the_key():
    with pytest.raises(SeqlabError, match=r"model\.pooling"):
        compose_train(["model.pooling=median"])


def test_missing_value_names_the_key():
    with pytest.raises(SeqlabError, match=r"no value for data\.name"):
        compose_train(["data.name=???"])


def test_unknown_kind_lists_the_known_ones():
    with pytest.raises(SeqlabError, match=r"data\.kind='images' is unknown"):
        compose_train(["data.kind=images"])


def test_typo_in_override_fails_on_the_command_line_with_the_key_and_fix():
    result = run_cli("seqlab.cli.train", "model.hiden_size=32", timeout=60)
    assert result.returncode != 0
    assert "model.hiden_size" in result.stderr
    assert "+model.hiden_size=32" in result.stderr  # Hydra's hint on how to add a key
    assert "Traceback" not in result.stderr


def test_schema_error_is_one_line_and_exit_code_two():
    result = run_cli("seqlab.cli.train", "+model.hiden_size=32", timeout=60)
    assert result.returncode == 2
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert lines == [
        "seqlab: error: config: unknown key model.hiden_size; did you mean model.hidden_size?"
    ]


def test_print_config_imports_neither_torch_nor_lightning():
    result = run_cli(
        "seqlab.cli.train", "--cfg", "job", timeout=60, env={"PYTHONPROFILEIMPORTTIME": "1"}
    )
    assert result.returncode == 0, result.stderr
    assert "cell: lstm" in result.stdout
    imported = {
        line.rsplit("|", 1)[-1].strip()
        for line in result.stderr.splitlines()
        if line.startswith("import time:")
    }
    assert "hydra" in imported  # the profile did record imports
    assert not {"torch", "lightning"} & imported


def test_a_bad_config_fails_before_torch_is_imported():
    result = run_cli(
        "seqlab.cli.train", "+data.colour=red", timeout=60, env={"PYTHONPROFILEIMPORTTIME": "1"}
    )
    assert result.returncode == 2
    assert "unknown key data.colour" in result.stderr
    assert "| torch\n" not in result.stderr


def test_run_dir_timestamps_carry_microseconds():
    result = run_cli("seqlab.cli.train", "--cfg", "hydra", timeout=60)
    run_dir = next(line for line in result.stdout.splitlines() if line.strip().startswith("dir:"))
    assert "outputs/${task_name}/runs/${now:%Y-%m-%d_%H-%M-%S_%f}" in run_dir


def test_the_slurm_launcher_resolves_to_submitit():
    """make install pins hydra-submitit-launcher, so hydra/launcher=slurm finds its plugin."""
    result = run_cli("seqlab.cli.train", "hydra/launcher=slurm", "--cfg", "hydra", timeout=60)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "hydra_submitit_launcher.submitit_launcher.SlurmLauncher" in result.stdout


def test_eval_runs_are_labelled_eval_in_wandb():
    from hydra import compose, initialize_config_dir

    from seqlab.config import EvalConfig, validate

    with initialize_config_dir(config_dir=config_dir(), version_base="1.3"):
        cfg = compose("eval", overrides=["ckpt_path=x.ckpt", "paths.output_dir=/nonexistent"])
    assert validate(cfg, EvalConfig).logger.wandb.job_type == "eval"
