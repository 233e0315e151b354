"""A run dir used a second time: a finished run is never overwritten, a stopped one continues only
through resume, a multirun or search started again goes on where it stopped, and nothing is lost
to a signal, the locale or the home folder (docs/reliability.md, "The second use of a folder")."""

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import optuna
import pytest
import torch

from conftest import REPO_ROOT, SIGNAL_TINY, run_cli, start_train, subprocess_env

pytestmark = pytest.mark.slow

TINY = [
    *SIGNAL_TINY,
    "callbacks.early_stopping.enabled=false",  # every run trains all its epochs
    "logger=csv",
]


def digests(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def start(*overrides: str) -> subprocess.Popen:
    return start_train(*overrides, capture=True)


def wait_for(path: Path, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + 300
    while not path.exists():
        assert process.poll() is None, process.communicate()[1][-3000:]
        assert time.monotonic() < deadline, f"no {path} within 300 s"
        time.sleep(0.02)


def seqlab_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith("seqlab:")]


def no_versioned_files(folder: Path) -> None:
    versioned = [p for p in folder.rglob("*") if "-v1" in p.name or "-v2" in p.name]
    assert not versioned, versioned


def test_a_finished_run_dir_refuses_a_new_start_and_changes_nothing(tmp_path):
    run_dir = tmp_path / "run"
    first = run_cli("seqlab.cli.train", *TINY, "trainer.max_epochs=2", f"hydra.run.dir={run_dir}")
    assert first.returncode == 0, first.stderr[-3000:]
    assert json.loads((run_dir / "status.json").read_text())["state"] == "finished"
    before = digests(run_dir)
    for again in (
        [*TINY, "trainer.max_epochs=2"],  # the same command
        [*TINY, "model=lstm"],  # another config
    ):
        second = run_cli("seqlab.cli.train", *again, f"hydra.run.dir={run_dir}")
        assert second.returncode == 2, second.stderr[-3000:]
        (line,) = seqlab_lines(second.stderr)
        assert f"{run_dir} holds a finished run (its metrics.json); start this one in a new" in line
        assert f"resume={run_dir}" in line
        assert digests(run_dir) == before


def test_a_stopped_run_continues_only_through_resume_and_ends_with_its_last_state(tmp_path):
    """last.ckpt on a time cadence (as by default) and a stop after it was written: the printed
    command continues the run, and last.ckpt is its end state, with no -v1 beside it."""
    run_dir = tmp_path / "run"
    command = [
        *TINY,
        # epochs short beside the cadence, and many: the first last.ckpt is written long before
        # fit ends, so the signal finds the run training however fast the machine is
        "trainer.max_epochs=60",
        "callbacks.checkpoint.last_every_s=1",
        f"hydra.run.dir={run_dir}",
    ]
    job = start(*command)
    wait_for(run_dir / "checkpoints" / "last.ckpt", job)
    job.send_signal(signal.SIGTERM)
    _, stderr = job.communicate(timeout=120)
    assert job.returncode == 143, stderr[-3000:]
    (line,) = seqlab_lines(stderr)
    printed = line.split("resume with: ", 1)[1]
    assert json.loads((run_dir / "status.json").read_text())["detail"] == "stopped by SIGTERM"

    before = digests(run_dir)
    fresh = run_cli("seqlab.cli.train", *command)
    assert fresh.returncode == 2
    (refused,) = seqlab_lines(fresh.stderr)
    assert (
        f"{run_dir} holds a stopped run (stopped by SIGTERM); continue it with resume=" in refused
    )
    assert digests(run_dir) == before

    assert printed.startswith("seqlab-train ") and printed.endswith(f"resume={run_dir}")
    resumed = run_cli("seqlab.cli.train", *printed.split()[1:], timeout=900)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    last = torch.load(run_dir / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=True)
    assert last["global_step"] == 60 * 32  # the end state: 60 epochs of 256 / 8 steps
    no_versioned_files(run_dir)
    assert json.loads((run_dir / "status.json").read_text())["state"] == "finished"


def test_ctrl_c_stops_like_sigterm_with_130(tmp_path):
    run_dir = tmp_path / "run"
    job = start(
        *TINY,
        "trainer.max_epochs=40",
        "callbacks.checkpoint.last_every_s=0",
        f"hydra.run.dir={run_dir}",
    )
    wait_for(run_dir / "checkpoints" / "last.ckpt", job)
    os.killpg(job.pid, signal.SIGINT)  # what a terminal's Ctrl-C does: the whole group
    _, stderr = job.communicate(timeout=120)
    assert job.returncode == 130, stderr[-3000:]
    (line,) = seqlab_lines(stderr)
    assert line.startswith("seqlab: stopped by SIGINT; checkpoints kept in ")
    assert "graceful shutdown" not in stderr
    torch.load(run_dir / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=True)


def test_a_multirun_started_again_skips_finished_jobs_resumes_the_stopped_one_runs_the_rest(
    tmp_path,
):
    sweep = tmp_path / "sweep"
    command = ["-m", *TINY, "seed=1,2,3", "callbacks.checkpoint.last_every_s=0"]
    command += ["trainer.max_epochs=12", f"hydra.sweep.dir={sweep}"]
    job = start(*command)
    wait_for(sweep / "1" / "checkpoints" / "last.ckpt", job)
    job.send_signal(signal.SIGTERM)
    _, stderr = job.communicate(timeout=120)
    assert job.returncode == 143, stderr[-3000:]
    (line,) = seqlab_lines(stderr)
    assert f"stopped by SIGTERM in {sweep / '1'}; the same command continues the multirun" in line
    assert line.endswith(f"hydra.sweep.dir={sweep}")
    assert not (sweep / "2").exists()
    first_job = digests(sweep / "0")

    again = run_cli("seqlab.cli.train", *command, timeout=900)
    assert again.returncode == 0, again.stderr[-3000:]
    assert f"{sweep / '0'}: finished earlier; skipped" in again.stdout
    assert f"resuming {sweep / '1'} from" in again.stdout
    for job_dir in ("0", "1", "2"):
        state = json.loads((sweep / job_dir / "status.json").read_text())["state"]
        assert state == "finished" and (sweep / job_dir / "metrics.json").is_file()
    changed = {k for k, v in digests(sweep / "0").items() if first_job.get(k) != v}
    assert changed <= {".hydra/config.yaml", ".hydra/hydra.yaml", ".hydra/overrides.yaml"}
    no_versioned_files(sweep)

    other = run_cli("seqlab.cli.train", "-m", *TINY, "seed=4,5", f"hydra.sweep.dir={sweep}")
    assert other.returncode == 2
    (refused,) = seqlab_lines(other.stderr)
    assert f"{sweep} holds another sweep" in refused


def test_a_search_started_again_continues_its_study_without_repeating_parameters(tmp_path):
    sweep = tmp_path / "search"
    command = [
        "-m",
        "hparams_search=mlp_optuna",
        "trainer.max_epochs=2",
        "print_config=false",
        "logger=csv",
        f"hydra.sweep.dir={sweep}",
    ]
    first = run_cli("seqlab.cli.train", *command, "hydra.sweeper.n_trials=1")
    assert first.returncode == 0, first.stderr[-3000:]
    again = run_cli("seqlab.cli.train", *command, "hydra.sweeper.n_trials=3")
    assert again.returncode == 0, again.stderr[-3000:]
    study = optuna.load_study(study_name="mlp_optuna", storage=f"sqlite:///{sweep / 'optuna.db'}")
    params = [tuple(sorted(t.params.items())) for t in study.trials]
    assert len(params) == 3 and len(set(params)) == 3, params


def test_a_refused_config_makes_no_folder_anywhere(tmp_path):
    for bad in ("optim.lr=-1", "trainer.max_epochs=abc", "task_name=../../../escaped"):
        result = run_cli("seqlab.cli.train", bad, env={"PROJECT_ROOT": str(tmp_path / "project")})
        assert result.returncode == 2, result.stderr[-3000:]
        assert len(seqlab_lines(result.stderr)) == 1
        assert not (tmp_path / "project").exists()
        assert not (tmp_path.parent / "escaped").exists()
    explicit = tmp_path / "explicit"
    result = run_cli("seqlab.cli.train", "optim.lr=-1", f"hydra.run.dir={explicit}")
    assert result.returncode == 2 and not explicit.exists()


def test_a_plain_locale_and_a_home_that_cannot_be_written_lose_nothing(tmp_path):
    """LANG=C cannot print the progress bar's bullets; a home under a file cannot be made: the
    run still ends with its metrics, and W&B's folders move into the run dir."""
    run_dir = tmp_path / "run"
    env = {
        "LANG": "C",
        "LC_ALL": "C",
        "PYTHONUTF8": "0",
        "PYTHONCOERCECLOCALE": "0",
        "PYTHONIOENCODING": "",
        "HOME": "/dev/null/home",
    }
    for variable in ("WANDB_DIR", "WANDB_DATA_DIR", "WANDB_CACHE_DIR", "WANDB_CONFIG_DIR"):
        env[variable] = ""
    clean = {k: v for k, v in subprocess_env(env).items() if v != ""}
    result = subprocess.run(
        [sys.executable, "-m", "seqlab.cli.train", *TINY[:-1], "trainer.max_epochs=2"]
        + ["callbacks.progress_bar=true", "logger=default", f"hydra.run.dir={run_dir}"],
        cwd=REPO_ROOT,
        capture_output=True,
        timeout=600,
        env=clean,
    )
    stderr = result.stderr.decode("ascii", errors="replace")
    assert result.returncode == 0, stderr[-3000:]
    assert "Traceback" not in stderr
    assert json.loads((run_dir / "metrics.json").read_text())["test/acc"] >= 0
    assert (run_dir / "wandb" / "data_dir").is_dir()
