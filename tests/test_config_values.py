"""Values of the right type but out of range, and names that would become paths outside the
project: refused by the config check, before torch or Lightning is imported, with one line that
names the key and the fix."""

import pytest

from seqlab.errors import SeqlabError

from conftest import compose_train, run_cli

BAD_VALUES = [
    (["trainer.max_epochs=abc"], "trainer.max_epochs='abc'"),
    (["trainer.max_epochs=0"], "trainer.max_epochs=0"),
    (["trainer.max_epochs=-1", "callbacks.early_stopping.enabled=false"], "early stopping"),
    (["trainer.max_epochs=-5"], "trainer.max_epochs=-5"),
    (["trainer.max_epochs=2.5"], "trainer.max_epochs=2.5"),
    (["data.batch_size=0"], "data.batch_size=0"),
    (["data=r8", "data.batch_size=-3"], "data.batch_size=-3"),
    (["data=cdnow", "data.batch_size=0"], "data.batch_size=0"),
    (["data=memory", "data.batch_size=0"], "data.batch_size=0"),
    (["model.hidden_size=0"], "model.hidden_size=0"),
    (["model.num_layers=0"], "model.num_layers=0"),
    (["model.dropout=1.0"], "model.dropout=1.0"),
    (["model.dropout=-0.1"], "model.dropout=-0.1"),
    (["model=mlp", "model.dropout=1.5"], "model.dropout=1.5"),
    (["model=mlp", "model.hidden_sizes=[500,0]"], "model.hidden_sizes=[500, 0]"),
    (["model.embedding_dropout=1.0"], "model.embedding_dropout=1.0"),
    (["optim.lr=0"], "optim.lr=0.0"),
    (["optim.lr=-0.001"], "optim.lr=-0.001"),
    (["trainer.accelerator=gpux"], "trainer.accelerator='gpux'"),
    (["logger.wandb.project=team/seqlab"], "logger.wandb.project='team/seqlab'"),
    (["logger.wandb.project=a:b"], "logger.wandb.project='a:b'"),
    (["logger.wandb.project=" + "p" * 129], "128 characters"),
    (["data.name=../../etc/GunPoint"], "data.name='../../etc/GunPoint'"),
    (["data=cdnow", "data.name=a/b"], "data.name='a/b'"),
    (["experiment_name=../../tmp/x"], "experiment_name='../../tmp/x'"),
    (["task_name=.."], "task_name='..'"),
    (["model=mlp", "data.variable_length=true"], "model.input='flatten'"),
    (["callbacks.checkpoint.last_every_s=-1"], "callbacks.checkpoint.last_every_s=-1.0"),
    (["callbacks.gradients.every_n_steps=0"], "callbacks.gradients.every_n_steps=0"),
    (["callbacks.gradients.jump_factor=1"], "callbacks.gradients.jump_factor=1.0 must exceed 1"),
    (["callbacks.gradients.median_window=2"], "callbacks.gradients.median_window=2"),
    (["data=cdnow", "data.label.min_events=0"], "data.label.min_events=0"),
    (["data=cdnow", "data.cutoff.events=3"], "needs exactly one of time"),
    (["data=cdnow", "data.cutoff.time=null"], "needs exactly one of time"),
    (["data=cdnow", "data.cutoff.time=null", "data.cutoff.events=0"], "data.cutoff.events=0"),
    (["data=cdnow", "data.max_length=0"], "data.max_length=0"),
]


@pytest.mark.parametrize(("overrides", "named"), BAD_VALUES, ids=lambda v: str(v))
def test_a_bad_value_is_one_line_naming_the_key(overrides, named):
    with pytest.raises(SeqlabError) as error:
        compose_train(overrides)
    message = str(error.value)
    assert named in message
    assert message.startswith("config: ") and "\n" not in message


@pytest.mark.parametrize(
    "overrides",
    [
        ["trainer.max_epochs=-1", "callbacks.early_stopping.enabled=true"],
        ["trainer.max_epochs=1", "model.dropout=0.0", "optim.lr=1e-6"],
        ["trainer.accelerator=auto"],
        ["trainer.accelerator=cuda"],
        ["logger.wandb.project=my-project_2"],
        ["model=gru", "data.variable_length=true"],
        ["data.name=Gun_Point", "experiment_name=gunpoint.v2"],
    ],
    ids=lambda v: " ".join(v),
)
def test_good_values_pass(overrides):
    compose_train(overrides)


@pytest.mark.parametrize(
    ("override", "named"),
    [("trainer.max_epochs=abc", "trainer.max_epochs"), ("optim.lr=-1", "optim.lr")],
)
def test_the_cli_stops_with_one_line_and_status_2_before_torch(override, named):
    result = run_cli("seqlab.cli.train", override, timeout=60, env={"PYTHONPROFILEIMPORTTIME": "1"})
    assert result.returncode == 2
    lines = [line for line in result.stderr.splitlines() if not line.startswith("import time:")]
    assert len(lines) == 1 and lines[0].startswith(f"seqlab: error: config: {named}=")
    imported = {line.rsplit("|", 1)[-1].strip() for line in result.stderr.splitlines()}
    assert not {"torch", "lightning"} & imported


def test_predicts_top_k_is_checked_with_the_config():
    from hydra import compose, initialize_config_dir

    from seqlab import config_dir
    from seqlab.config import PredictConfig, validate

    with initialize_config_dir(config_dir=config_dir(), version_base="1.3"):
        overrides = ["ckpt_path=x.ckpt", "input=y", "output.top_k=-1", "paths.output_dir=out"]
        cfg = compose("predict", overrides=overrides)
    with pytest.raises(SeqlabError, match=r"config: output.top_k=-1 must be 0 \(every class\)"):
        validate(cfg, PredictConfig)
