"""Run a Hydra multirun of seqlab-train and time it: the whole sweep, and per job the time from
the job's start (the launcher handing it to Hydra's run_job) to its first training step.

    PYTHONPATH=src python benchmarks/multirun_overhead.py model=mlp,rnn seed=1,2 \
        hydra.sweep.dir=outputs/train/multiruns/grid_gunpoint

Same jobs as `make sweep` (same entry point, launcher and configs); two hooks only observe: a
wrapper around run_job and a callback appended to the pipeline's callbacks. Prints one JSON
object and writes it to <sweep dir>/timing.json.
"""

import contextlib
import json
import sys
import time
from pathlib import Path

import hydra.core.utils

# Paid once per sweep by its first job (seqlab-train imports the pipeline lazily); timed here
# because this script needs the module before the sweep starts.
_tic = time.perf_counter()
from lightning.pytorch.callbacks import Callback  # noqa: E402

import seqlab.training.run  # noqa: E402

IMPORT_S = time.perf_counter() - _tic

from seqlab.cli.train import main  # noqa: E402

job_starts: list[float] = []
first_steps: list[float] = []


class FirstStep(Callback):
    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        if len(first_steps) < len(job_starts):
            first_steps.append(time.perf_counter())


def timed_run_job(*args, **kwargs):
    job_starts.append(time.perf_counter())
    return run_job(*args, **kwargs)


def with_timer(*args):
    return [*other_callbacks(*args), FirstStep()]


# Hydra re-imports its launcher module while scanning plugins, and it then picks up this one.
run_job, hydra.core.utils.run_job = hydra.core.utils.run_job, timed_run_job
other_callbacks, seqlab.training.run.other_callbacks = (
    seqlab.training.run.other_callbacks,
    with_timer,
)

if __name__ == "__main__":
    sweep_dir = next(a.split("=", 1)[1] for a in sys.argv[1:] if a.startswith("hydra.sweep.dir="))
    args = sys.argv[1:]
    sys.argv = [sys.argv[0], "-m", "print_config=false", "callbacks.progress_bar=false", *args]
    start = time.perf_counter()
    with contextlib.suppress(SystemExit):
        main()
    wall = time.perf_counter() - start
    overheads = [round(step - job, 2) for job, step in zip(job_starts, first_steps, strict=False)]
    result = {
        "jobs": len(job_starts),
        "wall_s": round(wall, 1),
        "pipeline_import_s": round(IMPORT_S, 2),
        "start_to_first_step_s": overheads,
    }
    Path(sweep_dir, "timing.json").write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result))
