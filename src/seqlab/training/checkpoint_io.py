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
"""

from typing import Any

from lightning.pytorch.plugins.io import AsyncCheckpointIO

from seqlab.training.lightning_private import run_in_writer_thread


class OrderedAsyncCheckpointIO(AsyncCheckpointIO):
    def remove_checkpoint(self, *args: Any, **kwargs: Any) -> None:
        inner = self.checkpoint_io
        assert inner is not None  # the Trainer sets the wrapped plugin before any removal
        run_in_writer_thread(self, lambda: inner.remove_checkpoint(*args, **kwargs))
