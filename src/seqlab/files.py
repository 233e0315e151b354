"""Every file seqlab writes goes through here: written to a temporary file in the same folder,
flushed to disk, then renamed over the target, so a reader (or a crash, a kill, a full disk)
sees either the old file or the whole new one, never a part.

The temporary file sits beside its target, never under $TMPDIR: a rename within one filesystem
is atomic, a move across filesystems is a copy that a kill can cut short.
"""

import errno
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from seqlab.errors import SeqlabError

# mkstemp creates files readable by the owner only; a written file gets the usual mode instead.
_UMASK = os.umask(0)
os.umask(_UMASK)
_DISK_FULL = (errno.ENOSPC, errno.EDQUOT)
_SUFFIX = ".tmp"  # temporary files are named .<target name>.<random>.tmp


@contextmanager
def atomic_path(path: Path | str) -> Iterator[Path]:
    """A temporary path beside `path` to write to; renamed onto `path` when the block ends
    without an error, removed when it fails. A full disk becomes one SeqlabError line."""
    target = Path(path)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        handle, name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    except OSError as error:
        raise user_error(error, target) from None
    os.close(handle)
    temporary = Path(name)
    try:
        os.chmod(temporary, 0o666 & ~_UMASK)
        yield temporary
        with open(temporary, "rb+") as written:
            os.fsync(written.fileno())
        os.replace(temporary, target)
    except OSError as error:
        if error.errno in _DISK_FULL:
            raise user_error(error, target) from None
        raise
    finally:
        temporary.unlink(missing_ok=True)


def user_error(error: OSError, target: Path) -> Exception:
    """The one line for an OSError met writing `target`, or the error itself if unknown."""
    folder = target.parent
    if error.errno in _DISK_FULL:
        return SeqlabError(
            f"no space left on {folder} (writing {target.name}); free space there and run "
            "again (resume=auto continues from the last checkpoint)"
        )
    if error.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return SeqlabError(
            f"{folder}: cannot write there ({error.strerror}); make it writable or write "
            "elsewhere (hydra.run.dir=<folder>)"
        )
    if error.errno in (errno.ENOTDIR, errno.EEXIST):
        return SeqlabError(
            f"{folder}: a part of this path is a file, not a folder; rename or remove it, or "
            "write elsewhere (hydra.run.dir=<folder>)"
        )
    return error


def remove_partial_files(folder: Path) -> None:
    """Remove the temporary files a killed process left in `folder` mid-write; only while no
    other process writes there (under the run dir's lock)."""
    for path in folder.glob(f".*{_SUFFIX}"):
        path.unlink(missing_ok=True)


def write_text_atomic(path: Path | str, text: str) -> None:
    with atomic_path(path) as temporary:
        temporary.write_text(text, encoding="utf-8")


def write_bytes_atomic(path: Path | str, data: bytes) -> None:
    with atomic_path(path) as temporary:
        temporary.write_bytes(data)


def savefig_atomic(figure: Any, path: Path | str, **options: Any) -> None:
    """matplotlib's `figure.savefig`, written atomically (the format from `path`'s suffix)."""
    target = Path(path)
    options.setdefault("format", target.suffix.lstrip(".") or None)
    with atomic_path(target) as temporary:
        figure.savefig(temporary, **options)
