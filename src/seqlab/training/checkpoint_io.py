"""Checkpoint files written by a background thread, in the order Lightning asks for them.

last.ckpt is rewritten after every epoch (callbacks/checkpoint.py), and replacing an existing
file costs milliseconds on some filesystems (docs/performance.md) while turning the checkpoint
into bytes takes well under one, so short epochs would wait on the disk.

Lightning's AsyncCheckpointIO clones every tensor of the checkpoint on the training thread (a
consistent point-in-time copy, so the next optimizer step cannot leak into it) and writes it in
one worker thread, atomically as before. Its removals (the previous best checkpoint) run on the
calling thread at once, though, so a removal could overtake a still-pending write of that file;
here removals go through the same single worker, so files appear and disappear in the order
Lightning asked. The Trainer waits for every pending write when fit or test ends (strategy
teardown, also after an exception), so the best checkpoint is complete before it is tested. A
failed write is raised at the next save or at the end of fit.

Each file is written by AtomicCheckpointIO: Lightning's own save writes a temporary file under
$TMPDIR and moves it onto the checkpoint, which across filesystems (a tmpfs /tmp) is a copy that
a kill or a full disk leaves truncated; here it goes through seqlab.files instead.
"""

from pathlib import Path
from typing import Any

import torch
from lightning.pytorch.plugins.io import AsyncCheckpointIO, TorchCheckpointIO

from seqlab.files import atomic_path
from seqlab.training.lightning_private import run_in_writer_thread


class AtomicCheckpointIO(TorchCheckpointIO):
    """Lightning's checkpoint format and loading; the file written beside its target, flushed
    and renamed (seqlab.files), so a checkpoint on disk is always whole."""

    def save_checkpoint(
        self, checkpoint: dict[str, Any], path: Any, storage_options: Any | None = None
    ) -> None:
        if storage_options is not None:
            raise TypeError("storage_options are not supported by seqlab's checkpoint writer")
        with atomic_path(Path(path)) as temporary, open(temporary, "wb") as handle:
            torch.save(checkpoint, handle)


class OrderedAsyncCheckpointIO(AsyncCheckpointIO):
    def remove_checkpoint(self, *args: Any, **kwargs: Any) -> None:
        inner = self.checkpoint_io
        assert inner is not None  # the Trainer sets the wrapped plugin before any removal
        run_in_writer_thread(self, lambda: inner.remove_checkpoint(*args, **kwargs))
