"""The life of a run dir, recorded in it: new, running, stopped, finished.

`status.json` holds the state seqlab-train last wrote, the digest of the config that wrote it and,
for a stop, the signal. A run killed outright (SIGKILL, a crash of the machine) cannot write its
stop: its file still says running, but no process holds the run dir's lock, so it reads as
stopped. Run dirs written before this file existed read as finished (metrics.json) or stopped
(checkpoints, no metrics.json).

One rule for each transition (docs/reliability.md):
- new -> running: any start;
- stopped -> running: only by resume (resume=<dir>, resume=auto, ckpt_path=last);
- finished -> running: refused, unless resume=<dir> asks to continue it (more epochs);
- running -> anything: refused while its holder lives (training/run_lock.py).
A multirun started again with the same command skips finished jobs and resumes stopped ones.
"""

import hashlib
import json
import signal
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from seqlab.config import TrainConfig
from seqlab.errors import SeqlabError
from seqlab.files import write_text_atomic
from seqlab.layout import CHECKPOINT_DIR, METRICS_FILE
from seqlab.schema import plain
from seqlab.training.run_lock import holds_lock, is_locked

STATUS_FILE = "status.json"
# Options that say where and how to run, not what is trained: a resumed or restarted run may
# change them and still be the same run.
_NOT_IN_DIGEST = ("paths", "resume", "ckpt_path", "print_config", "print_parameters")


class RunState(StrEnum):
    NEW = "new"
    RUNNING = "running"
    STOPPED = "stopped"
    FINISHED = "finished"


@dataclass(frozen=True)
class RunStatus:
    state: RunState
    digest: str | None = None  # of the config that last ran here; None: not recorded
    detail: str = ""  # how it stopped: "stopped by SIGTERM", "killed or crashed"


def config_digest(config: TrainConfig) -> str:
    kept = {k: v for k, v in plain(config).items() if k not in _NOT_IN_DIGEST}
    return hashlib.sha256(json.dumps(kept, sort_keys=True, default=str).encode()).hexdigest()[:16]


def read_status(run_dir: Path) -> RunStatus:
    path = run_dir / STATUS_FILE
    try:
        stored = json.loads(path.read_text())
        state, digest = RunState(stored["state"]), stored.get("digest")
    except (OSError, ValueError, KeyError, TypeError):
        return _status_of_older_dir(run_dir)
    if state is RunState.RUNNING and (holds_lock(run_dir) or not is_locked(run_dir)):
        # the process that wrote "running" no longer holds the lock: it died without a word
        return RunStatus(RunState.STOPPED, digest, "killed or crashed while running")
    return RunStatus(state, digest, stored.get("detail", ""))


def _status_of_older_dir(run_dir: Path) -> RunStatus:
    if (run_dir / METRICS_FILE).is_file():
        return RunStatus(RunState.FINISHED)
    if any((run_dir / CHECKPOINT_DIR).glob("*.ckpt")):
        return RunStatus(RunState.STOPPED, detail="stopped before its end")
    return RunStatus(RunState.NEW)


def write_status(run_dir: Path, state: RunState, digest: str, signum: int | None = None) -> None:
    detail = f"stopped by {signal.Signals(signum).name}" if signum else ""
    record = {"state": str(state), "digest": digest, "detail": detail}
    write_text_atomic(run_dir / STATUS_FILE, json.dumps(record, indent=1) + "\n")


def check_start(run_dir: Path, resuming: bool) -> None:
    """A seqlab-train run may start in `run_dir` (one not in use: training/run_lock.py)."""
    status = read_status(run_dir)
    if resuming or status.state in (RunState.NEW, RunState.RUNNING):
        return
    if status.state is RunState.FINISHED:
        raise SeqlabError(
            f"{run_dir} holds a finished run (its {METRICS_FILE}); start this one in a new run "
            f"dir (drop hydra.run.dir or name another folder), or continue that run with "
            f"resume={run_dir} (e.g. with more trainer.max_epochs)"
        )
    raise SeqlabError(
        f"{run_dir} holds a stopped run ({status.detail}); continue it with resume={run_dir}, "
        "or start this one in a new run dir (drop hydra.run.dir or name another folder)"
    )


def job_state(run_dir: Path, digest: str) -> RunState:
    """What a multirun job started again finds in its dir: finished (skip it), stopped with
    checkpoints (resume it) or new (run it); a job of another config there is refused."""
    status = read_status(run_dir)
    if status.state is RunState.NEW:
        return RunState.NEW
    if status.digest not in (None, digest):
        raise SeqlabError(
            f"{run_dir} holds a job of another configuration; run the sweep's own command "
            "again to continue it, or use a new hydra.sweep.dir"
        )
    if status.state is RunState.STOPPED and not any((run_dir / CHECKPOINT_DIR).glob("*.ckpt")):
        return RunState.NEW  # stopped before its first checkpoint: nothing to resume
    return status.state
