"""Under DDP, every rank stops on the same step when a stop signal reaches any of them.

A scheduler signals every task of a job, but not at the same instant, and `kill` or Ctrl-C may
reach one rank only. Lightning meets SIGTERM with a broadcast inside the signal handler and a
per-rank check after each step, so ranks that got the signal a step apart wait on different
collectives and the job hangs. Here, while a Trainer stage runs, the signal is only noted
(training/signals.py), and after each training batch the ranks take the largest noted signal
among them (one all-reduce of one number): when it is set, every rank asks Lightning to stop at
the same point, and the run ends as a one-process run stopped by that signal does.
"""

from typing import Any

import torch
import torch.distributed as dist
from lightning.pytorch.callbacks import Callback

from seqlab.training.lightning_private import request_stop
from seqlab.training.signals import PreemptionSignals


class StopTogether(Callback):
    def _take_over(self, trainer: Any) -> None:
        # Lightning installs its handlers when each stage starts; seqlab's replace them.
        received = PreemptionSignals.active
        if received is not None and trainer.world_size > 1:
            received.take_over()

    def on_sanity_check_start(self, trainer: Any, pl_module: Any) -> None:
        self._take_over(trainer)

    def on_train_start(self, trainer: Any, pl_module: Any) -> None:
        self._take_over(trainer)

    def on_validation_start(self, trainer: Any, pl_module: Any) -> None:
        self._take_over(trainer)

    def on_test_start(self, trainer: Any, pl_module: Any) -> None:
        self._take_over(trainer)

    # Training batches are the same in number on every rank, validation and test batches not
    # (each sample is scored by one rank only): the ranks agree after each training batch and
    # after each validation loop, so a signal during validation or testing takes effect at its
    # end (and one during the final test lets the run finish).
    def on_train_batch_end(self, trainer: Any, *args: Any) -> None:
        self._agree(trainer)

    def on_validation_end(self, trainer: Any, pl_module: Any) -> None:
        self._agree(trainer)

    def _agree(self, trainer: Any) -> None:
        received = PreemptionSignals.active
        if received is None or trainer.world_size <= 1 or not dist.is_initialized():
            return
        noted = torch.tensor([received.signum or 0], device=trainer.strategy.root_device)
        dist.all_reduce(noted, op=dist.ReduceOp.MAX)
        if noted.item():
            received.signum = received.signum or int(noted.item())
            request_stop(trainer)
