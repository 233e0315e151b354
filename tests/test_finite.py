"""A non-finite loss stops the run at once with one message; earlier checkpoints stay intact."""

import pytest

from conftest import run_cli

pytestmark = pytest.mark.slow
RUN = [
    "data.name=Toy",
    "data.normalize=none",
    "model=mlp",
    "model.hidden_sizes=[8]",
    "print_config=false",
    "callbacks.progress_bar=false",
    "logger=csv",
    "print_parameters=false",
]


def write_toy(root, value: float) -> None:
    """Twenty two-class series of ten steps; huge values overflow the MLP to NaN."""
    rows = [
        f"{1 + i % 2} " + " ".join(str(value * (1 + (i + t) % 3)) for t in range(10))
        for i in range(20)
    ]
    for split in ("TRAIN", "TEST"):
        (root / f"Toy_{split}").write_text("\n".join(rows) + "\n")


def test_nan_loss_stops_with_epoch_step_and_hint(tmp_path):
    write_toy(tmp_path, 1e38)
    result = run_cli(
        "seqlab.cli.train",
        *RUN,
        f"data.root={tmp_path}",
        "trainer.max_epochs=3",
        f"hydra.run.dir={tmp_path}/run",
    )
    assert result.returncode == 2
    lines = [line for line in result.stderr.splitlines() if line.startswith("seqlab: error")]
    assert len(lines) == 1
    assert "non-finite loss (nan) at epoch 0, step 0" in lines[0]
    assert "lower optim.lr" in lines[0]
    assert not (tmp_path / "run" / "metrics.json").exists()


def test_last_good_checkpoint_is_kept(tmp_path):
    write_toy(tmp_path, 0.5)
    first = run_cli(
        "seqlab.cli.train",
        *RUN,
        f"data.root={tmp_path}",
        "trainer.max_epochs=2",
        f"hydra.run.dir={tmp_path}/runs/good",
    )
    assert first.returncode == 0, first.stderr[-2000:]
    last = tmp_path / "runs" / "good" / "checkpoints" / "last.ckpt"
    before = last.read_bytes()
    # the data turns bad; continuing the run must fail without touching its checkpoints
    write_toy(tmp_path, 1e38)
    resumed = run_cli(
        "seqlab.cli.train",
        *RUN,
        f"data.root={tmp_path}",
        "trainer.max_epochs=4",
        # the finished run, by path: resume=auto continues only unfinished runs
        f"resume={tmp_path}/runs/good",
    )
    assert resumed.returncode == 2
    assert "non-finite loss (nan) at epoch 2" in resumed.stderr
    assert last.read_bytes() == before
