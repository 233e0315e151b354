"""Runs stopped by real signals (SIGTERM, SIGUSR1, SIGKILL) and started again by the same command
end exactly like an uninterrupted run; two runs never share a run dir."""

import json
import os
import random
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
import torch

from conftest import SIGNAL_TINY, compose_train, run_cli, start_train

pytestmark = pytest.mark.slow
# Small enough to start quickly, with epochs long enough (32 steps) for signals to land inside.
TINY = [
    *SIGNAL_TINY,
    "callbacks.checkpoint.last_every_s=0",  # last.ckpt after every epoch: kill points to wait for
]


@pytest.fixture(scope="module")
def uninterrupted_run(tmp_path_factory) -> Path:
    run_dir = tmp_path_factory.mktemp("uninterrupted") / "full"
    result = run_cli("seqlab.cli.train", *TINY, f"hydra.run.dir={run_dir}")
    assert result.returncode == 0, result.stderr[-3000:]
    return run_dir


@pytest.fixture(scope="module")
def uninterrupted(uninterrupted_run) -> dict:
    return json.loads((uninterrupted_run / "metrics.json").read_text())


def start(*overrides: str, env: dict | None = None) -> subprocess.Popen:
    return start_train(*TINY, *overrides, capture=True, env=env)


def wait_for_checkpoints(process: subprocess.Popen, run_dir: Path, writes: int) -> None:
    """Until last.ckpt has been written `writes` times (it follows every epoch)."""
    last = run_dir / "checkpoints" / "last.ckpt"
    seen: set[int] = set()
    deadline = time.monotonic() + 300
    while len(seen) < writes:
        assert process.poll() is None, process.communicate()[1][-3000:]
        assert time.monotonic() < deadline, "no checkpoints within 300 s"
        if last.exists():
            seen.add(last.stat().st_mtime_ns)
        time.sleep(0.01)


def stderr_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith("seqlab:")]


def test_ckpt_path_last_with_an_explicit_run_dir_continues_that_run(
    uninterrupted_run, uninterrupted, tmp_path
):
    """Issue 13 item 0: a finished run beside the killed one is never picked."""
    shutil.copytree(uninterrupted_run, tmp_path / "full")  # trained to completion, beside cut
    written_at = (tmp_path / "full" / "metrics.json").stat().st_mtime_ns
    cut = start(f"hydra.run.dir={tmp_path}/cut")
    wait_for_checkpoints(cut, tmp_path / "cut", writes=2)
    os.killpg(cut.pid, signal.SIGKILL)
    cut.communicate()

    resumed = run_cli("seqlab.cli.train", *TINY, "ckpt_path=last", f"hydra.run.dir={tmp_path}/cut")
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert f"resuming {tmp_path / 'cut'} from {tmp_path / 'cut' / 'checkpoints'}" in resumed.stdout
    assert json.loads((tmp_path / "cut" / "metrics.json").read_text()) == uninterrupted
    assert (tmp_path / "full" / "metrics.json").stat().st_mtime_ns == written_at


def wandb_records(run_folder: Path) -> list[dict]:
    result = subprocess.run(
        [str(Path(sys.executable).parent / "wandb"), "leet", "inspect", "--json", str(run_folder)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]


def test_sigterm_then_the_same_command_again_gives_the_uninterrupted_run(uninterrupted, tmp_path):
    """Issue 13 item 5, a SLURM requeue simulated: the job is signalled, then the same command
    (resume=auto) starts again and continues the same run dir and W&B run."""
    same_command = ("resume=auto", f"hydra.run.dir={tmp_path}/job")
    job = start(*same_command)
    wait_for_checkpoints(job, tmp_path / "job", writes=2)
    job.send_signal(signal.SIGTERM)
    _, stderr = job.communicate(timeout=120)
    assert job.returncode == 143, stderr[-3000:]
    (line,) = stderr_lines(stderr)
    assert line.startswith("seqlab: stopped by SIGTERM; checkpoints kept in ")
    assert line.endswith(f" resume={tmp_path / 'job'}"), line
    assert not (tmp_path / "job" / "metrics.json").exists()
    (first,) = (tmp_path / "job" / "wandb").glob("offline-run-*")
    records = wandb_records(first)
    assert [r["exit"]["exit_code"] for r in records if r["type"] == "exit"] == [143]
    assert any(r["type"] == "preempting" for r in records), {r["type"] for r in records}

    again = start(*same_command)
    stdout, stderr = again.communicate(timeout=600)
    assert again.returncode == 0, stderr[-3000:]
    assert f"resuming {tmp_path / 'job'}" in stdout
    assert json.loads((tmp_path / "job" / "metrics.json").read_text()) == uninterrupted
    # Issue 13 item 7: one W&B run id in two offline folders; the resumed history starts after
    # the first one's last step, and every epoch's validation row is logged exactly once.
    folders = sorted((tmp_path / "job" / "wandb").glob("offline-run-*"))
    assert len(folders) == 2 and len({p.name.rsplit("-", 1)[-1] for p in folders}) == 1
    rows = [
        [r["history"]["item"] for r in wandb_records(folder) if r["type"] == "history"]
        for folder in folders
    ]
    steps = [[row["_step"] for row in part] for part in rows]
    assert steps[1] == list(range(steps[0][-1] + 1, steps[0][-1] + 1 + len(steps[1])))
    epochs = [row["epoch"] for part in rows for row in part if "val/loss" in row]
    assert epochs == list(range(6))


def test_sigusr1_stops_with_138_and_the_printed_command_resumes(uninterrupted, tmp_path):
    job = start(f"hydra.run.dir={tmp_path}/job")
    wait_for_checkpoints(job, tmp_path / "job", writes=1)
    job.send_signal(signal.SIGUSR1)
    _, stderr = job.communicate(timeout=120)
    assert job.returncode == 128 + signal.SIGUSR1, stderr[-3000:]
    (line,) = stderr_lines(stderr)
    program, *arguments = shlex.split(line.split("resume with: ", 1)[1])
    assert program == "seqlab-train" and arguments[-1] == f"resume={tmp_path}/job"
    resumed = run_cli("seqlab.cli.train", *arguments)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert json.loads((tmp_path / "job" / "metrics.json").read_text()) == uninterrupted


def test_a_second_run_in_a_busy_run_dir_is_refused_and_changes_nothing(tmp_path):
    """Issue 13 item 6: one line naming the dir and the other process; resume=auto refuses the
    live run too."""
    runs = tmp_path / "runs"
    # an epoch budget it cannot finish while the second runs start (they take seconds to
    # import), and no early stop: on this tiny task it could end the run before they start
    first = start(
        "trainer.max_epochs=100000",
        "callbacks.early_stopping.enabled=false",
        f"hydra.run.dir={runs}/busy",
    )
    try:
        wait_for_checkpoints(first, runs / "busy", writes=1)
        config = (runs / "busy" / ".hydra" / "config.yaml").read_bytes()
        for second in (
            run_cli("seqlab.cli.train", *TINY, f"hydra.run.dir={runs}/busy"),
            run_cli("seqlab.cli.train", *TINY, "resume=auto", f"hydra.run.dir={runs}/fresh"),
        ):
            assert second.returncode == 2, second.stderr[-3000:]
            (line,) = stderr_lines(second.stderr)
            assert f"{runs / 'busy'} is in use by another seqlab run (pid {first.pid} " in line
        assert (runs / "busy" / ".hydra" / "config.yaml").read_bytes() == config
        assert first.poll() is None
    finally:
        os.killpg(first.pid, signal.SIGKILL)
        first.communicate()
    # killed: its lock went with it, so the run can be resumed
    # (with the first run's epoch budget: it may have passed TINY's; a few seconds of it suffice)
    resumed = run_cli(
        "seqlab.cli.train",
        *TINY,
        "trainer.max_epochs=100000",
        "+trainer.max_time=00:00:00:05",
        "ckpt_path=last",
        f"hydra.run.dir={runs}/busy",
    )
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert f"resuming {runs / 'busy'} from" in resumed.stdout + resumed.stderr


def other_filesystem() -> Path | None:
    """/dev/shm where it is a filesystem of its own (tmpfs), else None."""
    shm = Path("/dev/shm")
    usable = shm.is_dir() and os.access(shm, os.W_OK)
    if usable and shm.stat().st_dev != Path(tempfile.gettempdir()).stat().st_dev:
        return shm
    return None


def test_a_kill_between_an_improvement_and_its_write_resumes_to_the_uninterrupted_run(
    uninterrupted, tmp_path
):
    """Issue 27 item 1: a new best is kept in memory until the cadence writes it with
    last.ckpt. SIGKILL while one is unwritten (last.ckpt of an earlier epoch on disk, the new
    best file not): resume=auto redoes the epochs since last.ckpt and ends as the uninterrupted
    run (whose cadence wrote after every epoch)."""
    from kill_points import KILL_RECORD

    tests = str(Path(__file__).parent)
    path = os.pathsep.join([tests, os.environ.get("PYTHONPATH", "")])
    cadence = [o for o in TINY if not o.startswith("callbacks.checkpoint.last_every_s")]
    # the killer's clock moves 4 s an epoch: last.ckpt after the third epoch, then not before
    # the sixth
    run = (*cadence, "callbacks.checkpoint.last_every_s=10", f"hydra.run.dir={tmp_path}/run")
    killed = start_train(
        *run,
        "+callbacks.extra.kill._target_=kill_points.KillWhileBestUnwritten",
        capture=True,
        env={"PYTHONPATH": path},
    )
    _, stderr = killed.communicate(timeout=600)
    assert killed.returncode == -signal.SIGKILL, stderr[-3000:]
    record = json.loads((tmp_path / "run" / KILL_RECORD).read_text())
    assert not Path(record["unwritten"]).exists()
    last = torch.load(tmp_path / "run" / "checkpoints" / "last.ckpt", weights_only=True)
    assert last["epoch"] < record["epoch"]
    (state,) = [v for k, v in last["callbacks"].items() if "BestAndLastCheckpoint" in k]
    assert Path(state["best_model_path"]).is_file()  # the best file last.ckpt names is there

    resumed = run_cli("seqlab.cli.train", *run, "resume=auto")
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert f"resuming {tmp_path / 'run'}" in resumed.stdout
    assert json.loads((tmp_path / "run" / "metrics.json").read_text()) == uninterrupted
    names = sorted(p.name for p in (tmp_path / "run" / "checkpoints").iterdir())
    assert len(names) == 2 and names[-1] == "last.ckpt", names


def test_kill_loop_every_checkpoint_loads_and_the_end_is_the_uninterrupted_run(
    uninterrupted, tmp_path
):
    """SIGKILL at random moments (seeded), the same command again each time; $TMPDIR on another
    filesystem where the machine has one, so a checkpoint written through it would be torn."""
    shm = other_filesystem()
    tmpdir = Path(tempfile.mkdtemp(dir=shm)) if shm else tmp_path / "tmpdir"
    tmpdir.mkdir(exist_ok=True)
    env = {"TMPDIR": str(tmpdir)}
    same_command = ("resume=auto", f"hydra.run.dir={tmp_path}/run")
    moments = random.Random(13)
    try:
        for kill in range(3):
            job = start(*same_command, env=env)
            wait_for_checkpoints(job, tmp_path / "run", writes=1)
            time.sleep(moments.uniform(0.0, 1.0))
            os.killpg(job.pid, signal.SIGKILL)
            job.communicate()
            for checkpoint in (tmp_path / "run" / "checkpoints").glob("*.ckpt"):
                loaded = torch.load(checkpoint, map_location="cpu", weights_only=True)
                assert "state_dict" in loaded, f"kill {kill}: {checkpoint}"
        last = start(*same_command, env=env)
        _, stderr = last.communicate(timeout=600)
        assert last.returncode == 0, stderr[-3000:]
        assert json.loads((tmp_path / "run" / "metrics.json").read_text()) == uninterrupted
        # no checkpoint went through $TMPDIR (W&B and torch keep folders of their own there)
        assert [p.name for p in tmpdir.iterdir() if p.is_file()] == []
        # what the kills left half-written was removed by the next start
        leftovers = [p.name for p in (tmp_path / "run" / "checkpoints").iterdir()]
        assert all(name.endswith(".ckpt") for name in leftovers), leftovers
    finally:
        if shm:
            for path in sorted(tmpdir.rglob("*"), reverse=True):
                path.rmdir() if path.is_dir() else path.unlink()
            tmpdir.rmdir()


def test_last_holds_the_tie_value_of_the_best_epoch_and_the_best_file_none(tmp_path):
    """A new best epoch's tie-breaker value is in last.ckpt written with it: a run resumed from
    it breaks the next tie on the monitored metric as the uninterrupted run. The best file is
    weights only: no callback state, nothing to resume from."""
    from seqlab.training.pipeline import train

    overrides = [o for o in TINY if not o.startswith("trainer.max_epochs")]
    config = compose_train([*overrides, "trainer.max_epochs=1", "logger=csv"], tmp_path)
    train(config)
    val_loss = float(next(csv_rows(tmp_path, "val/loss")))
    saved = torch.load(tmp_path / "checkpoints" / "last.ckpt", weights_only=True)
    (state,) = [v for k, v in saved["callbacks"].items() if "BestAndLastCheckpoint" in k]
    assert state["best_tie_value"] == pytest.approx(val_loss)
    assert Path(state["best_model_path"]).name == "epoch000.ckpt"
    best = torch.load(tmp_path / "checkpoints" / "epoch000.ckpt", weights_only=True)
    assert not {"callbacks", "optimizer_states", "lr_schedulers", "loops"} & set(best)
    assert best["state_dict"].keys() == saved["state_dict"].keys()


def csv_rows(run_dir: Path, column: str):
    import csv

    with open(run_dir / "csv" / "metrics.csv") as handle:
        for row in csv.DictReader(handle):
            if row.get(column):
                yield row[column]
