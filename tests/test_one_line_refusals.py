"""Inputs that ended in a traceback now end in one line and exit status 2: trainer options this
machine or Lightning refuses, a model too large for the memory, an empty comparison, a hand-edited
checkpoint (docs/reliability.md, "The second use of a folder", item 9)."""

import pytest
import torch

from conftest import compose_train, quick_overrides, run_cli

pytestmark = pytest.mark.slow


def refused(module: str, *overrides: str) -> str:
    result = run_cli(module, *overrides)
    lines = [line for line in result.stderr.splitlines() if line.startswith("seqlab:")]
    assert result.returncode == 2, result.stderr[-3000:]
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr[-3000:]
    return lines[0]


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        (
            ["trainer.precision=8"],
            "trainer (accelerator=cpu, precision=8, strategy=auto): Precision 8 is invalid",
        ),
        (
            ["model.hidden_size=100000"],
            "parameters need 149.0 GiB for the weights alone, more than the",
        ),
    ],
    ids=["precision", "huge-model"],
)
def test_training_options_the_machine_cannot_take(tmp_path, overrides, expected):
    line = refused(
        "seqlab.cli.train",
        "experiment=gunpoint_lstm",
        "logger=csv",
        *overrides,
        f"hydra.run.dir={tmp_path / 'run'}",
    )
    assert expected in line


def test_a_gpu_on_a_machine_without_one(tmp_path):
    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    line = refused(
        "seqlab.cli.train",
        "experiment=gunpoint_mlp",
        "trainer=gpu",
        "logger=csv",
        f"hydra.run.dir={tmp_path / 'run'}",
    )
    assert "trainer (accelerator=gpu, " in line and "trainer=cpu runs anywhere" in line


def test_an_empty_comparison(tmp_path):
    line = refused(
        "seqlab.cli.compare", "models=[]", "baselines=[]", f"hydra.run.dir={tmp_path / 'run'}"
    )
    assert "models and baselines=[] are both empty: there is nothing to compare" in line
    assert not (tmp_path / "run").exists()


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    from seqlab.training.pipeline import train

    out = tmp_path_factory.mktemp("edited") / "train"
    overrides = quick_overrides("experiment=gunpoint_mlp", "trainer.max_epochs=1", "logger=csv")
    train(compose_train(overrides, output_dir=out))
    return next((out / "checkpoints").glob("epoch*.ckpt"))


def edited(checkpoint, folder, change) -> str:
    stored = torch.load(checkpoint, map_location="cpu", weights_only=True)
    change(stored)
    path = folder / "edited.ckpt"
    torch.save(stored, path)
    return str(path)


def test_a_hand_edited_checkpoint_of_an_unknown_data_kind(checkpoint, tmp_path):
    path = edited(checkpoint, tmp_path, lambda c: c["hyper_parameters"]["data"].update(kind="x"))
    line = refused(
        "seqlab.cli.evaluate",
        f"ckpt_path={path}",
        "logger=csv",
        f"hydra.run.dir={tmp_path / 'eval'}",
    )
    assert "data.kind='x' is not a data kind (a hand-edited checkpoint?); use one of" in line


def test_a_hand_edited_checkpoint_whose_tensors_do_not_fit(checkpoint, tmp_path):
    def shrink(stored):
        name = next(k for k in stored["state_dict"] if k.endswith("weight"))
        stored["state_dict"][name] = stored["state_dict"][name][:1]

    path = edited(checkpoint, tmp_path, shrink)
    line = refused(
        "seqlab.cli.evaluate",
        f"ckpt_path={path}",
        "logger=csv",
        f"hydra.run.dir={tmp_path / 'eval'}",
    )
    assert (
        "its weights do not fit the model its hyperparameters describe (size mismatch for " in line
    )
