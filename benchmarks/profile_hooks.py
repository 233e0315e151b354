"""Where an epoch's time goes, hook by hook: Lightning's simple profiler over seqlab's full path
and over a Trainer with Lightning's own features off (no logger, checkpoints, progress bar or
summary), on the same module and data.

    PYTHONPATH=src python benchmarks/profile_hooks.py --workload parity --epochs 60

Prints every profiled action that costs at least --min-ms per epoch on either side (total time
over the epochs, divided by the epoch count; the first epoch's warm-up included). The profiler
adds its own clock reads to every hook, so the figures rank the hooks; epoch times come from
overhead.py.
"""

import argparse
import contextlib
import io
import tempfile
from pathlib import Path

from common import isolate_wandb, pin_threads
from overhead import same_network, workload_config
from workloads import WORKLOADS, Workload


def per_epoch_ms(profiler, epochs: int) -> dict[str, float]:
    return {
        action: 1000 * sum(durations) / epochs
        for action, durations in profiler.recorded_durations.items()
    }


def seqlab_side(workload: Workload, epochs: int) -> dict[str, float]:
    from lightning.pytorch.profilers import SimpleProfiler

    import seqlab.training.pipeline

    with tempfile.TemporaryDirectory() as folder:
        isolate_wandb(Path(folder) / "wandb_home")
        config = workload_config(workload, Path(folder), epochs)
        profiler = SimpleProfiler(dirpath=folder, filename="profile")
        config.trainer = {**config.trainer, "profiler": profiler}
        with contextlib.redirect_stdout(io.StringIO()):
            seqlab.training.pipeline.train(config)
    return per_epoch_ms(profiler, epochs)


def lightning_side(workload: Workload, epochs: int) -> dict[str, float]:
    import lightning as L
    from lightning.pytorch.profilers import SimpleProfiler

    with tempfile.TemporaryDirectory() as folder:
        config, data, model = same_network(workload, Path(folder), epochs)
        profiler = SimpleProfiler(dirpath=folder, filename="profile")
        trainer = L.Trainer(
            accelerator="cpu",
            devices=1,
            max_epochs=epochs,
            logger=False,
            enable_checkpointing=False,
            enable_progress_bar=False,
            enable_model_summary=False,
            gradient_clip_val=config.trainer.get("gradient_clip_val"),
            limit_val_batches=config.trainer.get("limit_val_batches", 1.0),
            num_sanity_val_steps=0,
            profiler=profiler,
            default_root_dir=folder,
        )
        with contextlib.redirect_stdout(io.StringIO()):
            trainer.fit(model, datamodule=data)
    return per_epoch_ms(profiler, epochs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workload", default="parity")
    parser.add_argument("--epochs", type=int, default=60)
    parser.add_argument("--min-ms", type=float, default=0.2)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    pin_threads(args.threads)
    workload = next(w for w in WORKLOADS if w.name == args.workload)
    seqlab = seqlab_side(workload, args.epochs)
    bare = lightning_side(workload, args.epochs)
    rows = sorted(
        (
            name
            for name in {*seqlab, *bare}
            if max(seqlab.get(name, 0), bare.get(name, 0)) >= args.min_ms
        ),
        key=lambda name: -seqlab.get(name, 0),
    )
    print(f"| action ({workload.name}, ms per epoch) | seqlab | Lightning, features off |")
    print("|---|---|---|")
    for name in rows:
        print(f"| `{name}` | {seqlab.get(name, 0):.2f} | {bare.get(name, 0):.2f} |")


if __name__ == "__main__":
    main()
