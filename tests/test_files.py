"""Atomic files: checkpoints and every other output written beside their target and renamed;
a full disk is one line and keeps the previous file."""

import errno
import os
import re
import tempfile
from pathlib import Path

import pytest
import torch

from seqlab.errors import SeqlabError
from seqlab.files import atomic_path, write_text_atomic
from seqlab.training.trainer import build_trainer

from conftest import REPO_ROOT


@pytest.fixture
def other_filesystem_tmpdir(tmp_path, monkeypatch) -> Path:
    """$TMPDIR on another filesystem than tmp_path where the machine has one (/dev/shm)."""
    shm = Path("/dev/shm")
    if shm.is_dir() and os.access(shm, os.W_OK) and shm.stat().st_dev != tmp_path.stat().st_dev:
        folder = Path(tempfile.mkdtemp(dir=shm, prefix="seqlab-test-"))
    else:
        folder = tmp_path / "tmpdir"
        folder.mkdir()
    monkeypatch.setenv("TMPDIR", str(folder))
    monkeypatch.setattr(tempfile, "tempdir", None)  # read $TMPDIR again
    yield folder
    for leftover in folder.iterdir():
        leftover.unlink()
    folder.rmdir()


def checkpoint_plugin(run_dir: Path):
    """The checkpoint plugin a training run's Trainer writes through."""
    trainer = build_trainer({"accelerator": "cpu", "devices": 1}, run_dir, [], [])
    return trainer.strategy.checkpoint_io


def renames(monkeypatch) -> list[tuple[Path, Path]]:
    done: list[tuple[Path, Path]] = []
    real_replace, real_rename = os.replace, os.rename

    def replace(src, dst, *args, **kwargs):
        done.append((Path(src), Path(dst)))
        return real_replace(src, dst, *args, **kwargs)

    def rename(src, dst, *args, **kwargs):
        done.append((Path(src), Path(dst)))
        return real_rename(src, dst, *args, **kwargs)

    monkeypatch.setattr(os, "replace", replace)
    monkeypatch.setattr(os, "rename", rename)
    return done


def test_a_checkpoint_is_written_beside_its_target_never_in_tmpdir(
    tmp_path, other_filesystem_tmpdir, monkeypatch
):
    done = renames(monkeypatch)
    plugin = checkpoint_plugin(tmp_path)
    target = tmp_path / "checkpoints" / "last.ckpt"
    plugin.save_checkpoint({"state_dict": {"w": torch.ones(3)}, "loops": {}}, target)
    plugin.teardown()  # waits for the writer thread
    assert torch.load(target, weights_only=True)["state_dict"]["w"].sum() == 3
    assert [(src.parent, dst) for src, dst in done] == [(target.parent, target)]
    assert list(other_filesystem_tmpdir.iterdir()) == []
    assert [p.name for p in target.parent.iterdir()] == ["last.ckpt"]


def fill_the_disk_after(half: bool, monkeypatch) -> None:
    """torch.save writes part of the checkpoint, then the disk is full (a test double)."""
    real_save = torch.save

    def save(obj, destination, *args, **kwargs):
        import io

        buffer = io.BytesIO()
        real_save(obj, buffer, *args, **kwargs)
        data = buffer.getvalue()
        if hasattr(destination, "write"):
            destination.write(data[: len(data) // 2] if half else b"")
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(torch, "save", save)


def test_a_full_disk_keeps_the_previous_checkpoint_and_says_so(tmp_path, monkeypatch):
    plugin = checkpoint_plugin(tmp_path)
    target = tmp_path / "checkpoints" / "last.ckpt"
    plugin.save_checkpoint({"state_dict": {"w": torch.ones(3)}, "loops": {}}, target)
    plugin.teardown()
    before = target.read_bytes()
    fill_the_disk_after(half=True, monkeypatch=monkeypatch)
    plugin.save_checkpoint({"state_dict": {"w": torch.zeros(3)}, "loops": {}}, target)
    with pytest.raises(SeqlabError) as raised:
        plugin.teardown()
    assert str(raised.value).startswith(f"no space left on {target.parent}")
    assert target.read_bytes() == before
    assert [p.name for p in target.parent.iterdir()] == ["last.ckpt"]


def test_a_failed_write_leaves_no_part_behind(tmp_path):
    target = tmp_path / "metrics.json"
    write_text_atomic(target, "old\n")
    with pytest.raises(RuntimeError), atomic_path(target) as temporary:
        temporary.write_text("half")
        raise RuntimeError("killed")
    assert target.read_text() == "old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["metrics.json"]


def test_a_figure_is_saved_atomically_in_the_format_of_its_name(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from seqlab.files import savefig_atomic

    figure = plt.figure()
    savefig_atomic(figure, tmp_path / "plot.png", dpi=50)
    plt.close(figure)
    assert (tmp_path / "plot.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert [p.name for p in tmp_path.iterdir()] == ["plot.png"]


# Writing calls that bypass seqlab.files (which holds the only ones); to_csv() with no path
# returns the text.
DIRECT_WRITES = re.compile(
    r"\.write_text\(|\.write_bytes\(|\.savefig\(|\.to_csv\((?!\w+=|\))|json\.dump\(|torch\.save\("
    r"|open\([^)]*[\"'][wa]b?[\"']"
)


def test_every_file_seqlab_writes_goes_through_seqlab_files():
    offenders = [
        f"{path.relative_to(REPO_ROOT)}:{number}: {line.strip()}"
        for path in sorted((REPO_ROOT / "src").rglob("*.py"))
        if path.name not in ("files.py", "checkpoint_io.py")
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if DIRECT_WRITES.search(line) and "temporary" not in line
    ]
    assert offenders == []
