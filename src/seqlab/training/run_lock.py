"""One process writes into a run dir at a time.

A lock file in the run dir, held with fcntl's flock, which the kernel releases when its holder
exits however it exits (SIGKILL included), so a killed run never leaves a lock that blocks its
resume. The file holds the holder's pid and host for the refusal to name them. Where the
filesystem has no flock, a lock whose pid is no longer alive on this host counts as stale.
`filelock` is not used: it truncates the file on every attempt, erasing the holder's pid.
"""

import fcntl
import os
import socket
from pathlib import Path

from seqlab.errors import SeqlabError

LOCK_FILE = ".seqlab.lock"
# Rank variables of torchrun, Lightning's launcher and SLURM: only the first process locks.
_RANK_VARIABLES = ("RANK", "LOCAL_RANK", "NODE_RANK", "SLURM_PROCID")
_held: dict[Path, int] = {}  # run dir -> open descriptor holding its lock


def is_first_process() -> bool:
    return all(os.environ.get(name, "0") == "0" for name in _RANK_VARIABLES)


def lock_run_dir(run_dir: Path) -> bool:
    """Take the run dir's lock for this process; False when it already held it (or is not the
    first process of a multi-process run). Raises SeqlabError when another process holds it."""
    key = run_dir.resolve()
    if key in _held or not is_first_process():
        return False
    run_dir.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(run_dir / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        _refuse(run_dir, descriptor)
    except OSError:  # no flock on this filesystem: the pid decides
        if _alive(_holder(descriptor)):
            _refuse(run_dir, descriptor)
    os.ftruncate(descriptor, 0)
    os.pwrite(descriptor, f"{os.getpid()} {socket.gethostname()}\n".encode(), 0)
    _held[key] = descriptor
    return True


def holds_lock(run_dir: Path) -> bool:
    return run_dir.resolve() in _held


def is_locked(run_dir: Path) -> bool:
    """Whether a live process (this one included) holds the run dir's lock."""
    if holds_lock(run_dir):
        return True
    try:
        descriptor = os.open(run_dir / LOCK_FILE, os.O_RDONLY)
    except OSError:
        return False
    try:
        fcntl.flock(descriptor, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    except OSError:  # no flock on this filesystem: the pid decides
        return _alive(_holder(descriptor))
    finally:
        os.close(descriptor)  # closing releases a lock taken here
    return False


def unlock_run_dir(run_dir: Path) -> None:
    descriptor = _held.pop(run_dir.resolve(), None)
    if descriptor is not None:
        os.close(descriptor)  # closing releases the flock


def _alive(holder: list[str]) -> bool:
    if len(holder) < 2 or not holder[0].isdigit():
        return False
    if holder[1] != socket.gethostname():
        return True  # another host's process cannot be checked from here
    try:
        os.kill(int(holder[0]), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _holder(descriptor: int) -> list[str]:
    return os.pread(descriptor, 200, 0).decode(errors="replace").split()


def _refuse(run_dir: Path, descriptor: int) -> None:
    holder = _holder(descriptor)
    os.close(descriptor)
    who = f"pid {holder[0]} on {holder[1]}" if len(holder) >= 2 else "a process starting up"
    raise SeqlabError(
        f"{run_dir} is in use by another seqlab run ({who}); wait for it to end (or stop "
        "it), or use another run dir (hydra.run.dir=<folder>)"
    )
