"""A run killed with SIGKILL mid-epoch and resumed ends exactly like the uninterrupted run."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from seqlab.training.pipeline import train

from conftest import REPO_ROOT, compose_train, quick_overrides, run_cli, subprocess_env

pytestmark = pytest.mark.slow
# Two series a batch: 20 steps an epoch, so the kill lands inside an epoch, not between two.
RUN = [
    "model=lstm",
    "trainer.max_epochs=4",
    "data.batch_size=2",
    "print_config=false",
    "callbacks.progress_bar=false",
    "print_parameters=false",
]


def start_run(run_dir: Path, *extra: str) -> subprocess.Popen:
    # A session of its own, so the kill takes the whole process group (its W&B service too), as
    # a crashed machine would.
    return subprocess.Popen(
        [sys.executable, "-m", "seqlab.cli.train", *RUN, *extra, f"hydra.run.dir={run_dir}"],
        cwd=REPO_ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
        env=subprocess_env(),
    )


def wait_for(last: Path, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + 600
    while not last.exists() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)


def kill(run_dir: Path, process: subprocess.Popen) -> None:
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    assert (run_dir / "checkpoints" / "last.ckpt").exists(), "the run never wrote last.ckpt"
    assert not (run_dir / "metrics.json").exists(), "the run finished before it was killed"


def kill_in_third_epoch(run_dir: Path) -> None:
    # last.ckpt after every epoch, so that the killed run has a mid-run checkpoint
    process = start_run(run_dir, "callbacks.checkpoint.last_every_s=0")
    last = run_dir / "checkpoints" / "last.ckpt"
    wait_for(last, process)
    # wait for the second epoch's rewrite
    first_write = last.stat().st_mtime_ns
    while last.stat().st_mtime_ns == first_write and process.poll() is None:
        time.sleep(0.02)
    time.sleep(0.3)  # into the third epoch
    kill(run_dir, process)


def kill_after_fit(run_dir: Path) -> None:
    """The default cadence (30 s) writes last.ckpt once in a run this short: when fit ends.
    The kill lands while the best checkpoint is tested."""
    process = start_run(run_dir)
    wait_for(run_dir / "checkpoints" / "last.ckpt", process)
    kill(run_dir, process)


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory) -> dict:
    run_dir = tmp_path_factory.mktemp("full")
    full = run_cli("seqlab.cli.train", *RUN, f"hydra.run.dir={run_dir}")
    assert full.returncode == 0, full.stderr[-3000:]
    return json.loads((run_dir / "metrics.json").read_text())


@pytest.mark.parametrize("kill_run", [kill_in_third_epoch, kill_after_fit])
def test_resume_after_sigkill_reproduces_the_uninterrupted_run(tmp_path, uninterrupted, kill_run):
    runs = tmp_path / "runs"
    kill_run(runs / "killed")
    resumed = run_cli("seqlab.cli.train", *RUN, "resume=auto", f"hydra.run.dir={runs}/restart")
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert f"resuming {runs / 'killed'}" in resumed.stdout

    # the resumed run finishes in the killed run's dir, with the same numbers
    finished = json.loads((runs / "killed" / "metrics.json").read_text())
    assert finished == uninterrupted
    # and logs into the same W&B run id, and beside (not over) the first CSV log
    run_ids = {p.name.rsplit("-", 1)[-1] for p in (runs / "killed" / "wandb").glob("offline-run-*")}
    assert len(run_ids) == 1
    assert (runs / "killed" / "csv" / "metrics.csv").is_file()
    assert (runs / "killed" / "csv" / "resume_1" / "metrics.csv").is_file()


def test_resume_with_nothing_to_resume_says_so(tmp_path):
    result = run_cli("seqlab.cli.train", *RUN, "ckpt_path=last", f"hydra.run.dir={tmp_path}/only")
    assert result.returncode == 2
    assert "nothing to resume" in result.stderr


def test_a_run_resumed_after_its_last_epoch_keeps_its_best_values(tmp_path):
    """Killed while testing: the resumed fit has no epoch left to validate, so the val/*_best
    values come back from the checkpoint (a faster epoch made the SIGKILL test land there)."""
    full = train(compose_train(quick_overrides("trainer.max_epochs=2"), tmp_path / "full"))
    last = tmp_path / "full" / "checkpoints" / "last.ckpt"
    again = compose_train(
        quick_overrides("trainer.max_epochs=2", f"ckpt_path={last}"), tmp_path / "again"
    )
    assert train(again) == full
