"""seqlab's full training path against a hand-written PyTorch loop, in one process.

    PYTHONPATH=src python benchmarks/overhead.py [--workload parity] [--repeats 5] [--epochs 32]

seqlab side: the config composed with Hydra's compose API and validated by seqlab.config, then
seqlab.training.pipeline.train itself (the SequenceClassifier with all five metrics per split,
CSV and offline W&B logging, the rich progress bar, best + last checkpoints every epoch, the RNG,
non-finite and gradient-diagnostics callbacks, the test of the best checkpoint and its plots).
The only addition is a clock callback appended to the pipeline's callbacks.

Plain side: the same network (a SequenceClassifier, used as a plain nn.Module: its forward and
loss only), the same data module's loaders (so the same batches), optimiser, cosine schedule,
gradient clipping and number of optimizer steps; with validation, a no-grad pass over the
validation loader computing loss and accuracy by hand. No metrics library, no logging, no
checkpoints, no progress bar.

Bare Lightning side (the floor Lightning itself sets): a barebones Trainer fitting the same
SequenceClassifier on the same loaders with the same clipping.

Seconds per epoch on every side: epoch-start to epoch-start over every epoch after the first
(warm-up), so whatever happens once per epoch (validation, metric compute, logging, checkpoint
saving, loader set-up) is inside. Runs alternate plain / bare Lightning / seqlab, so all three
see the same load. CPU time per epoch (time.process_time, every thread of the process) is
reported beside the wall time.
"""

import argparse
import contextlib
import io
import itertools
import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING

from common import CPU, RESULTS_DIR, Target, compose_train, isolate_wandb, pin_threads, spread
from workloads import WORKLOADS, Workload

if TYPE_CHECKING:
    from seqlab.config import TrainConfig


def first_batches(loader, limit: int | float | None):
    """The batches a Trainer with limit_*_batches=`limit` would take (a whole number: that
    many; otherwise all, as the workloads never give a fraction)."""
    return itertools.islice(loader, limit) if isinstance(limit, int) else loader


def per_epoch(starts: list[float]) -> float:
    """Mean seconds per epoch between the starts of epoch 1 and of the last epoch."""
    return (starts[-1] - starts[1]) / (len(starts) - 2)


def workload_config(
    workload: Workload, folder: Path, epochs: int, target: Target = CPU, extra: tuple = ()
) -> "TrainConfig":
    prepared = workload.prepare(folder) if workload.prepare else []
    return compose_train(
        [
            *workload.overrides,
            *prepared,
            *target.overrides,
            *extra,
            f"trainer.max_epochs={epochs}",
            "print_config=false",
            f"paths.output_dir={folder / 'run'}",
        ]
    )


def synchronize() -> None:
    """Wait for the GPU's queued work, so a clock reading includes it (nothing on a CPU)."""
    import torch

    if torch.cuda.is_available() and torch.cuda.is_initialized():
        torch.cuda.synchronize()


def epoch_clock(clock: dict):
    """A callback writing the clock readings the tables use into `clock`."""
    from lightning.pytorch.callbacks import Callback

    class EpochClock(Callback):
        def on_train_epoch_start(self, trainer, pl_module) -> None:
            synchronize()
            clock["starts"].append(time.perf_counter())
            clock["cpu_starts"].append(time.process_time())

        def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
            clock["first_step"] = clock["first_step"] or time.perf_counter()

        def on_train_end(self, trainer, pl_module) -> None:
            clock["fit_end"] = time.perf_counter()

    return EpochClock()


def seqlab_run(
    workload: Workload, epochs: int, target: Target = CPU, extra: tuple = (), observers=()
) -> dict:
    """One seqlab-train run through the pipeline; returns its clock readings. `extra`: more
    overrides; `observers`: more callbacks."""
    import seqlab.training.pipeline
    import seqlab.training.run

    clock: dict = {"starts": [], "cpu_starts": [], "first_step": None}
    other_callbacks = seqlab.training.run.other_callbacks
    seqlab.training.run.other_callbacks = lambda *args: [
        *other_callbacks(*args),
        epoch_clock(clock),
        *observers,
    ]
    try:
        with tempfile.TemporaryDirectory() as folder:
            isolate_wandb(Path(folder) / "wandb_home")
            start = time.perf_counter()
            config = workload_config(workload, Path(folder), epochs, target, extra)
            composed = time.perf_counter()
            # The progress bar still renders (to a buffer, as it would to a pipe).
            with contextlib.redirect_stdout(io.StringIO()):
                seqlab.training.pipeline.train(config)
            end = time.perf_counter()
    finally:
        seqlab.training.run.other_callbacks = other_callbacks
    return {
        "epoch_s": per_epoch(clock["starts"]),
        "epoch_cpu_s": per_epoch(clock["cpu_starts"]),
        "compose_s": composed - start,
        "to_first_step_s": clock["first_step"] - composed,
        "after_fit_s": end - clock["fit_end"],  # test of the best checkpoint, plots, files
        "total_s": end - start,
    }


def same_network(
    workload: Workload, folder: Path, epochs: int, target: Target = CPU
) -> tuple[dict, object, object]:
    """The workload's config, its set-up data module and a fresh SequenceClassifier: what the
    plain loop and the bare Lightning side train (seqlab's side builds its own in train())."""
    import torch

    from seqlab.data.registry import build_datamodule
    from seqlab.models.classifier import SequenceClassifier

    config = workload_config(workload, folder, epochs, target)
    torch.manual_seed(config.seed)
    data = build_datamodule(config.data)
    data.setup("fit")
    model = SequenceClassifier.from_config(config, data.meta, fitted=None)
    return config, data, model


def bare_lightning_run(workload: Workload, epochs: int, target: Target = CPU) -> dict:
    """Lightning's own floor: a `barebones` Trainer (no logging, checkpoints, progress bar or
    model summary; `self.log` does nothing) fitting the same SequenceClassifier on the same
    data module with the same clipping. seqlab's path minus this is what seqlab adds."""
    import lightning as L

    clock: dict = {"starts": [], "cpu_starts": [], "first_step": None}
    with tempfile.TemporaryDirectory() as folder:
        config, data, model = same_network(workload, Path(folder), epochs, target)
        options = config.trainer
        trainer = L.Trainer(
            barebones=True,
            accelerator=target.accelerator,
            devices=1,
            precision=target.precision,
            max_epochs=epochs,
            gradient_clip_val=options.get("gradient_clip_val"),
            limit_train_batches=options.get("limit_train_batches", 1.0),
            limit_val_batches=options.get("limit_val_batches", 1.0),
            num_sanity_val_steps=0,
            callbacks=[epoch_clock(clock)],
            default_root_dir=folder,
        )
        with contextlib.redirect_stdout(io.StringIO()):
            trainer.fit(model, datamodule=data)
    return {"epoch_s": per_epoch(clock["starts"]), "epoch_cpu_s": per_epoch(clock["cpu_starts"])}


def plain_run(workload: Workload, epochs: int, target: Target = CPU) -> dict:
    """The hand-written loop on the same model, batches and optimizer steps."""
    import torch

    with tempfile.TemporaryDirectory() as folder:
        # The same network (inputs, encoder, dropout, head, loss with any class weights) by
        # construction; only its forward and loss are used, never Lightning.
        config, data, model = same_network(workload, Path(folder), epochs, target)
        device = torch.device(target.device)
        model.to(device)
        data.device = device  # its in-memory splits, where no Trainer says where to train
        autocast = torch.autocast(
            device.type, dtype=torch.bfloat16, enabled=target.precision == "bf16-mixed"
        )
        optim = config.optim
        assert (optim.name, optim.scheduler) == ("adamw", "cosine"), "the loop mirrors these"
        params = list(model.parameters())
        optimizer = torch.optim.AdamW(params, lr=optim.lr, weight_decay=optim.weight_decay)
        scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=epochs)
        options = config.trainer
        clip = options.get("gradient_clip_val")
        train_loader, val_loader = data.train_dataloader(), data.val_dataloader()
        if workload.validation and not len(val_loader):  # type: ignore[arg-type]
            raise SystemExit(
                f"workload {workload.name}: validation=True, but its data keeps no validation "
                "part; set validation=False in benchmarks/workloads.py"
            )

        starts, cpu_starts = [], []
        for _ in range(epochs):
            synchronize()
            starts.append(time.perf_counter())
            cpu_starts.append(time.process_time())
            model.train()
            for batch in first_batches(train_loader, options.get("limit_train_batches")):
                batch = batch.to(device)  # already there unless a DataLoader cut it
                optimizer.zero_grad(set_to_none=True)
                with autocast:
                    loss = model.loss_fn(model(batch), batch.labels)
                loss.backward()
                if clip:
                    torch.nn.utils.clip_grad_norm_(params, clip)
                optimizer.step()
            scheduler.step()
            if workload.validation:
                model.eval()
                with torch.no_grad(), autocast:
                    val_batches = first_batches(val_loader, options.get("limit_val_batches"))
                    outputs = [(model(b.to(device)), b.labels.to(device)) for b in val_batches]
                    logits = torch.cat([o for o, _ in outputs])
                    labels = torch.cat([y for _, y in outputs])
                    _ = float(model.loss_fn(logits, labels))
                    _ = float((logits.argmax(dim=1) == labels).float().mean())
    return {"epoch_s": per_epoch(starts), "epoch_cpu_s": per_epoch(cpu_starts)}


def measure(workload: Workload, repeats: int, epochs: int, target: Target = CPU) -> dict:
    runs: dict[str, list[float]] = {"plain": [], "lightning": [], "seqlab": []}
    cpu: dict[str, list[float]] = {"plain": [], "lightning": [], "seqlab": []}
    seqlab = []
    for _ in range(repeats):  # alternating, so all three sides see the same load
        for side, result in (
            ("plain", plain_run(workload, epochs, target)),
            ("lightning", bare_lightning_run(workload, epochs, target)),
            ("seqlab", seqlab_run(workload, epochs, target)),
        ):
            runs[side].append(result["epoch_s"])
            cpu[side].append(result["epoch_cpu_s"])
        seqlab.append(result)

    def paired(over: str, under: str, combine) -> dict:
        return spread([combine(a, b) for a, b in zip(runs[over], runs[under], strict=True)])

    return {
        "workload": workload.name,
        "note": workload.note,
        "validation": workload.validation,
        "epochs": epochs,
        "repeats": repeats,
        "seqlab_epoch_s": spread(runs["seqlab"]),
        "lightning_epoch_s": spread(runs["lightning"]),
        "plain_epoch_s": spread(runs["plain"]),
        "diff_epoch_s": paired("seqlab", "plain", lambda a, b: a - b),
        "ratio": paired("seqlab", "plain", lambda a, b: a / b),
        "lightning_diff_epoch_s": paired("lightning", "plain", lambda a, b: a - b),
        "lightning_ratio": paired("lightning", "plain", lambda a, b: a / b),
        "over_lightning_epoch_s": paired("seqlab", "lightning", lambda a, b: a - b),
        # CPU time of the whole process (every thread) per epoch: what the work costs, less
        # sensitive than wall time to other processes on a shared machine
        "seqlab_epoch_cpu_s": spread(cpu["seqlab"]),
        "lightning_epoch_cpu_s": spread(cpu["lightning"]),
        "plain_epoch_cpu_s": spread(cpu["plain"]),
        "over_lightning_epoch_cpu_s": spread(
            [a - b for a, b in zip(cpu["seqlab"], cpu["lightning"], strict=True)]
        ),
        "seqlab_compose_s": statistics.median(r["compose_s"] for r in seqlab),
        "seqlab_to_first_step_s": statistics.median(r["to_first_step_s"] for r in seqlab),
        "seqlab_after_fit_s": statistics.median(r["after_fit_s"] for r in seqlab),
        "seqlab_total_s": statistics.median(r["total_s"] for r in seqlab),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workload", action="append", help="default: all")
    parser.add_argument("--repeats", type=int, help="default: the workload's")
    parser.add_argument("--epochs", type=int, help="default: the workload's")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    pin_threads(args.threads)
    results = []
    for workload in WORKLOADS:
        if args.workload and workload.name not in args.workload:
            continue
        result = measure(workload, args.repeats or workload.repeats, args.epochs or workload.epochs)
        results.append(result)
        print(json.dumps(result, indent=2), flush=True)
    RESULTS_DIR.mkdir(exist_ok=True)
    (RESULTS_DIR / "overhead_latest.json").write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
