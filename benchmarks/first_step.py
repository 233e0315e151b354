"""seqlab-train with one observer: it writes the wall-clock time of the first training step.

    FIRST_STEP_FILE=/tmp/t PYTHONPATH=src python benchmarks/first_step.py experiment=gunpoint_lstm

Used by benchmarks/startup.py, which notes the time before it starts this command. The same
entry point, configs and pipeline run as with seqlab-train; a callback appended to the
pipeline's callbacks records time.time() at the first on_train_batch_start. The pipeline
module is imported up front to attach it (seqlab-train imports it after composing the config),
so the total is unchanged, only the order.
"""

import os
import sys
import time
from pathlib import Path

from lightning.pytorch.callbacks import Callback

import seqlab.training.run
from seqlab.cli.train import main


class FirstStep(Callback):
    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        path = Path(os.environ["FIRST_STEP_FILE"])
        if not path.exists():
            path.write_text(f"{time.time()}\n")


other_callbacks = seqlab.training.run.other_callbacks
seqlab.training.run.other_callbacks = lambda *args: [
    *other_callbacks(*args),
    FirstStep(),
]

if __name__ == "__main__":
    sys.argv[0] = "seqlab-train"
    main()
