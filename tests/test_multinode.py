"""Beyond one machine, on localhost: two nodes under torchrun, a sweep through Hydra's
submitit launcher, and a two-task DDP run driven by SLURM's variables, stopped by SLURM's
SIGUSR1 and requeued (docs/ddp-and-resume.md shows each recipe)."""

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import ONE_THREAD, REPO_ROOT, SIGNAL_TINY, evaluate_cli, run_cli, subprocess_env

pytestmark = [pytest.mark.slow, pytest.mark.ddp]
QUIET = ["print_config=false", "callbacks.progress_bar=false", "print_parameters=false"]
GUNPOINT_MLP = ["experiment=gunpoint_mlp", "trainer.max_epochs=3", "logger=csv", *QUIET]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def finish(processes: list[subprocess.Popen], timeout: float = 300) -> list[str]:
    """Wait for every process; their outputs (stdout and stderr together), each asserted to
    have exited 0, every failed one shown."""
    outputs, codes = [], []
    for process in processes:
        try:
            output, _ = process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            for other in processes:
                other.kill()
            raise
        outputs.append(output)
        codes.append(process.returncode)
    failed = [f"exit {c}:\n{o[-3000:]}" for c, o in zip(codes, outputs, strict=True) if c != 0]
    assert not failed, "\n\n".join(failed)
    return outputs


def start(command: list[str], env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen(
        command,
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=subprocess_env({**ONE_THREAD, **env}),
    )


def test_two_nodes_under_torchrun_test_what_one_process_evaluates(tmp_path):
    """The issue's command, once per node rank: one metrics.json, whose test metrics are those
    of a one-process seqlab-eval of the checkpoint the run tested."""
    run_dir, port = tmp_path / "run", free_port()
    torchrun = Path(sys.executable).with_name("torchrun")
    nodes = [
        start(
            [
                str(torchrun),
                "--nnodes=2",
                "--nproc-per-node=1",
                f"--node-rank={rank}",
                "--master-addr=127.0.0.1",
                f"--master-port={port}",
                "-m",
                "seqlab.cli.train",
                *GUNPOINT_MLP,
                "trainer=ddp",
                "trainer.accelerator=cpu",
                "trainer.num_nodes=2",
                "trainer.devices=1",
                f"hydra.run.dir={run_dir}",
            ],
            {},
        )
        for rank in (0, 1)
    ]
    finish(nodes)
    metrics = json.loads((run_dir / "metrics.json").read_text())
    (best,) = (run_dir / "checkpoints").glob("epoch*.ckpt")
    single = evaluate_cli(best, tmp_path / "eval", "trainer=cpu")
    assert set(single) == {k for k in metrics if k.startswith("test/")}
    for name, value in single.items():
        assert metrics[name] == pytest.approx(value, abs=1e-6), name


def test_a_sweep_through_the_submitit_local_launcher(tmp_path):
    sweep = tmp_path / "sweep"
    result = run_cli(
        "seqlab.cli.train",
        "-m",
        "hydra/launcher=submitit_local",
        *GUNPOINT_MLP,
        "trainer.max_epochs=1",
        "seed=1,2",
        f"hydra.sweep.dir={sweep}",
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    for job, seed in (("0", 1), ("1", 2)):
        assert json.loads((sweep / job / "metrics.json").read_text())["test/acc"] > 0
        assert f"seed={seed}" in (sweep / job / ".hydra" / "overrides.yaml").read_text()
    # each job ran in a process of its own, submitit's, which logged it
    logs = list((sweep / ".submitit").rglob("*_log.out"))
    assert len(logs) == 2, logs


# SLURM's tasks on localhost: what srun sets for a job of two tasks on one node.
SLURM_JOB = {
    "SLURM_NTASKS": "2",
    "SLURM_NTASKS_PER_NODE": "2",
    "SLURM_NODEID": "0",
    "SLURM_JOB_ID": "1002",
    "SLURM_NODELIST": "localhost",
    "SLURM_JOB_NAME": "seqlab",
}
# The same command for the job and for its requeued run (sbatch --requeue runs the script again).
SLURM_TINY = [*SIGNAL_TINY, "trainer=ddp_cpu", "callbacks.checkpoint.last_every_s=0", "resume=auto"]


@pytest.fixture
def scontrol(tmp_path, monkeypatch) -> Path:
    """A stand-in `scontrol` on PATH that records each call; the file it records into."""
    folder, calls = tmp_path / "bin", tmp_path / "scontrol.calls"
    folder.mkdir()
    (folder / "scontrol").write_text(f'#!/bin/sh\necho "$@" >> "{calls}"\n')
    (folder / "scontrol").chmod(0o755)
    monkeypatch.setenv("PATH", f"{folder}{os.pathsep}{os.environ['PATH']}")
    return calls


def slurm_tasks(run_dir: Path) -> list[subprocess.Popen]:
    """The job's two tasks, each in a session of its own (as srun starts them, a signal to one
    reaches that one only)."""
    tasks = []
    for rank in (0, 1):
        slurm = {**SLURM_JOB, "SLURM_PROCID": str(rank), "SLURM_LOCALID": str(rank)}
        tasks.append(
            subprocess.Popen(
                [sys.executable, "-m", "seqlab.cli.train", *SLURM_TINY, f"hydra.run.dir={run_dir}"],
                cwd=REPO_ROOT,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
                start_new_session=True,
                env=subprocess_env({**ONE_THREAD, **slurm}),
            )
        )
    return tasks


def signal_after_two_epochs(tasks: list[subprocess.Popen], run_dir: Path, signalled) -> None:
    last, seen = run_dir / "checkpoints" / "last.ckpt", set()
    deadline = time.monotonic() + 300
    while len(seen) < 2:
        assert all(t.poll() is None for t in tasks), [t.communicate()[0][-2000:] for t in tasks]
        assert time.monotonic() < deadline, "no checkpoints within 300 s"
        if last.exists():
            seen.add(last.stat().st_mtime_ns)
        time.sleep(0.01)
    for task in signalled(tasks):
        task.send_signal(signal.SIGUSR1)


def exit_codes(tasks: list[subprocess.Popen]) -> tuple[list[int], list[str]]:
    outputs = []
    for task in tasks:
        try:
            outputs.append(task.communicate(timeout=120)[0])
        except subprocess.TimeoutExpired:
            for other in tasks:
                other.kill()
            pytest.fail("the tasks did not stop within 120 s of the signal (a DDP hang)")
    return [t.returncode for t in tasks], outputs


def test_slurm_sigusr1_requeues_and_the_requeued_job_ends_as_an_uninterrupted_one(
    tmp_path, scontrol
):
    """Both tasks get SIGUSR1 (sbatch --signal=USR1@90): both stop with 138, the job is requeued
    once, and the requeued command continues the run dir and its W&B run to the metrics.json of
    a job never stopped."""
    run_dir = tmp_path / "job"
    tasks = slurm_tasks(run_dir)
    signal_after_two_epochs(tasks, run_dir, lambda tasks: tasks)
    codes, outputs = exit_codes(tasks)
    assert codes == [138, 138], outputs
    assert scontrol.read_text() == "requeue 1002\n"
    assert "seqlab: requeued SLURM job 1002" in outputs[0]
    assert not (run_dir / "metrics.json").exists()

    requeued = finish(slurm_tasks(run_dir))
    assert f"resuming {run_dir}" in requeued[0]
    assert scontrol.read_text() == "requeue 1002\n"  # nothing more to requeue
    uninterrupted = tmp_path / "uninterrupted"
    finish(slurm_tasks(uninterrupted))
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics == json.loads((uninterrupted / "metrics.json").read_text())
    folders = list((run_dir / "wandb").glob("offline-run-*"))
    assert len(folders) == 2 and len({p.name.rsplit("-", 1)[-1] for p in folders}) == 1


def test_a_signal_to_one_task_stops_both_on_the_same_step(tmp_path, scontrol):
    """Ctrl-C or `kill` may reach one rank only: the other stops with it rather than waiting
    on it forever."""
    run_dir = tmp_path / "job"
    tasks = slurm_tasks(run_dir)
    signal_after_two_epochs(tasks, run_dir, lambda tasks: tasks[1:])
    codes, outputs = exit_codes(tasks)
    assert codes == [138, 138], outputs
    assert scontrol.read_text() == "requeue 1002\n"
    status = json.loads((run_dir / "status.json").read_text())
    assert status["state"] == "stopped", status


def test_requeue_failures_are_one_line_each(tmp_path, monkeypatch):
    from seqlab.training.signals import requeue_slurm_job

    for name, value in {**SLURM_JOB, "SLURM_PROCID": "0", "SLURM_LOCALID": "0"}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("PATH", str(tmp_path))  # no scontrol
    assert requeue_slurm_job(signal.SIGUSR1) == (
        "could not requeue SLURM job 1002: scontrol is not on PATH; resubmit the job"
    )
    (tmp_path / "scontrol").write_text("#!/bin/sh\necho 'Invalid job id specified' >&2\nexit 1\n")
    (tmp_path / "scontrol").chmod(0o755)
    assert requeue_slurm_job(signal.SIGUSR1) == (
        "could not requeue SLURM job 1002 (scontrol: Invalid job id specified); resubmit the job"
    )
    assert requeue_slurm_job(signal.SIGTERM) is None  # a scheduler's stop, not a warning
    monkeypatch.setenv("SLURM_ARRAY_JOB_ID", "77")
    monkeypatch.setenv("SLURM_ARRAY_TASK_ID", "3")
    (tmp_path / "scontrol").write_text(f'#!/bin/sh\necho "$@" > "{tmp_path}/calls"\n')
    assert requeue_slurm_job(signal.SIGUSR1).startswith("requeued SLURM job 77_3")
    assert (tmp_path / "calls").read_text() == "requeue 77_3\n"
