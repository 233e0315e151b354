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

from conftest import ONE_THREAD, REPO_ROOT, evaluate_cli, run_cli, subprocess_env

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
