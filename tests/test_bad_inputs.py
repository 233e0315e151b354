"""Bad run dirs, checkpoints, report inputs and W&B settings: one line naming the problem and the
fix, exit status 2, nothing written over (issue 13, items 10 and 14)."""

import os
from pathlib import Path

import pytest
import torch

from seqlab.cli.hydra_callbacks import prepare
from seqlab.config import LoggerConfig, WandbConfig
from seqlab.errors import SeqlabError

from conftest import compose_train, quick_overrides, run_cli


def unwritable_folder(tmp_path: Path) -> Path:
    """A folder this process cannot write into: permissions for a user, sysfs for root (whom
    permissions do not stop)."""
    if os.geteuid() != 0:
        folder = tmp_path / "read-only"
        folder.mkdir()
        folder.chmod(0o555)
        return folder
    return Path("/sys/seqlab-probe")


def test_a_run_dir_that_is_a_file_is_refused(tmp_path):
    (tmp_path / "run").write_text("mine\n")
    with pytest.raises(SeqlabError, match=r"hydra.run.dir=.*/run is a file, not a folder"):
        prepare(tmp_path / "run", "hydra.run.dir")
    assert (tmp_path / "run").read_text() == "mine\n"


def test_outputs_that_is_a_file_is_named(tmp_path):
    (tmp_path / "outputs").write_text("mine\n")
    with pytest.raises(SeqlabError, match=rf"{tmp_path / 'outputs'} is a file, so hydra.run.dir"):
        prepare(tmp_path / "outputs" / "train" / "runs" / "now", "hydra.run.dir")


def test_a_run_dir_that_cannot_be_written_is_refused(tmp_path):
    with pytest.raises(SeqlabError, match="cannot write there"):
        prepare(unwritable_folder(tmp_path) / "run", "hydra.run.dir")


def test_a_malformed_overrides_file_in_seqlab_report_is_one_line(tmp_path, capsys):
    from seqlab.cli.report import main

    run = tmp_path / "run"
    (run / ".hydra").mkdir(parents=True)
    (run / ".hydra" / "config.yaml").write_text("seed: 1\n")
    (run / "metrics.json").write_text('{"test/f1": 0.5}\n')
    for text in ("- model=gru\n- [unclosed\n", "model: gru\n", "- {model: gru}\n"):
        (run / ".hydra" / "overrides.yaml").write_text(text)
        with pytest.raises(SystemExit) as exited:
            main([str(run)])
        assert exited.value.code == 2
        (line,) = capsys.readouterr().err.splitlines()
        assert line.startswith(f"seqlab: error: {run / '.hydra' / 'overrides.yaml'}: not ")
    assert not (run / "leaderboard.md").exists()


def test_a_project_name_that_wandb_refuses_is_one_line(tmp_path):
    from seqlab.training.loggers import build_loggers

    wandb = WandbConfig(log_code=False)
    wandb.project = "team/project"  # past seqlab's own check: W&B's refusal is what is tested
    with pytest.raises(SeqlabError, match="logger.wandb: Invalid project name 'team/project'"):
        build_loggers(LoggerConfig(csv=False, wandb=wandb), tmp_path, {})


@pytest.mark.slow
@pytest.mark.parametrize("case", ["run dir is a file", "outputs is a file", "read-only run dir"])
def test_bad_run_dirs_from_the_command_line(tmp_path, case):
    overrides = []
    if case == "run dir is a file":
        (tmp_path / "run").write_text("mine\n")
        overrides = [f"hydra.run.dir={tmp_path / 'run'}"]
    elif case == "outputs is a file":
        (tmp_path / "outputs").write_text("mine\n")
    else:
        overrides = [f"hydra.run.dir={unwritable_folder(tmp_path) / 'run'}"]
    result = run_cli(
        "seqlab.cli.train", *overrides, cwd=tmp_path, env={"PROJECT_ROOT": str(tmp_path)}
    )
    assert result.returncode == 2, result.stderr[-3000:]
    (line,) = result.stderr.splitlines()
    assert line.startswith("seqlab: error: ") and "hydra.run.dir" in line, line


@pytest.fixture(scope="module")
def gru_checkpoint(tmp_path_factory) -> Path:
    run_dir = tmp_path_factory.mktemp("gru")
    config = compose_train(memory_run("trainer.max_epochs=1"), run_dir)
    from seqlab.training.pipeline import train

    train(config)
    return run_dir / "checkpoints" / "last.ckpt"


def memory_run(*extra: str) -> list[str]:
    return quick_overrides(
        "data=memory",
        "data.length=8",
        "data.num_train=32",
        "data.num_val=16",
        "data.num_test=16",
        "model=gru",
        "model.hidden_size=8",
        "callbacks.gradients.enabled=false",
        "logger=csv",
        *extra,
    )


@pytest.mark.slow
@pytest.mark.parametrize(
    ("case", "overrides", "message"),
    [
        ("missing", [], "checkpoint not found"),
        ("folder", [], "a folder, not a checkpoint"),
        ("not a checkpoint", [], "not a readable checkpoint"),
        ("a best checkpoint", [], r"a best checkpoint \(weights only"),
        ("another model", ["model.hidden_size=12"], "a checkpoint of another model"),
        ("another dataset", ["data.length=9"], "a checkpoint of another dataset"),
    ],
)
def test_train_refuses_a_checkpoint_it_cannot_continue(
    gru_checkpoint, tmp_path, case, overrides, message
):
    path = {
        "missing": tmp_path / "nowhere.ckpt",
        "folder": gru_checkpoint.parent,
        "not a checkpoint": tmp_path / "notes.ckpt",
        "a best checkpoint": next(gru_checkpoint.parent.glob("epoch*.ckpt")),
    }.get(case, gru_checkpoint)
    if case == "not a checkpoint":
        path.write_text("these are notes\n")
    from seqlab.training.pipeline import train

    before = gru_checkpoint.read_bytes()
    config = compose_train(memory_run(*overrides, f"ckpt_path={path}"), tmp_path / "run")
    with pytest.raises(SeqlabError, match=message) as raised:
        train(config)
    assert str(raised.value).startswith(str(path))
    assert gru_checkpoint.read_bytes() == before
    assert not (tmp_path / "run" / "checkpoints").exists()


@pytest.mark.slow
def test_a_checkpoint_from_before_an_option_existed_still_fits(gru_checkpoint, tmp_path):
    """An option added since a checkpoint was written is absent from it: at its default (the
    behaviour the checkpoint was trained with) the checkpoint still continues; set to
    anything else, it is another model."""
    from seqlab.training.resume import check_fits

    checkpoint = torch.load(gru_checkpoint, weights_only=False)
    hparams = checkpoint["hyper_parameters"]
    older = tmp_path / "older.ckpt"
    model = dict(hparams["model"])
    assert model.pop("layer_norm") is False and model.pop("chrono") == 0
    torch.save({**checkpoint, "hyper_parameters": {**hparams, "model": model}}, older)
    check_fits(str(older), hparams)
    changed = {**hparams, "model": {**hparams["model"], "layer_norm": True}}
    refused = r"another model \(model.layer_norm is False there, True here"
    with pytest.raises(SeqlabError, match=refused):
        check_fits(str(older), changed)


@pytest.mark.slow
def test_train_from_a_best_checkpoint_is_one_line_naming_last(gru_checkpoint, tmp_path):
    best = next(gru_checkpoint.parent.glob("epoch*.ckpt"))
    result = run_cli(
        "seqlab.cli.train",
        f"ckpt_path={best}",
        f"hydra.run.dir={tmp_path / 'run'}",
        "print_config=false",
    )
    assert result.returncode == 2, result.stderr[-3000:]
    (line,) = result.stderr.splitlines()
    assert line.startswith(f"seqlab: error: {best}: a best checkpoint (weights only")
    assert f"ckpt_path={gru_checkpoint} " in line


@pytest.mark.slow
def test_train_with_a_folder_as_ckpt_path_is_one_line(gru_checkpoint, tmp_path):
    result = run_cli(
        "seqlab.cli.train",
        f"ckpt_path={gru_checkpoint.parent}",
        f"hydra.run.dir={tmp_path / 'run'}",
        "print_config=false",
    )
    assert result.returncode == 2, result.stderr[-3000:]
    (line,) = result.stderr.splitlines()
    assert line.startswith(f"seqlab: error: {gru_checkpoint.parent}: a folder, not a checkpoint")


def test_a_checkpoint_read_as_a_training_checkpoint_needs_seqlab_hyperparameters(tmp_path):
    from seqlab.models.modules import read_checkpoint

    path = tmp_path / "foreign.ckpt"
    torch.save({"state_dict": {}, "hyper_parameters": {"lr": 0.1}}, path)
    with pytest.raises(SeqlabError, match="not a seqlab checkpoint"):
        read_checkpoint(str(path))
