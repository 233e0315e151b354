"""Where a training step's time goes, op by op: torch.profiler over training steps of a
workload's network, as the plain loop of overhead.py trains it (forward, loss, backward,
clipping, the optimizer seqlab builds), outside Lightning.

    PYTHONPATH=src python benchmarks/profile_steps.py --workload r8_bilstm --steps 40

The steps are a seeded random sample of one epoch's batches (long and short buckets alike), after
three warm-up steps. Prints the ops with the most self CPU time; the profiler's own cost per op
inflates many small ops, so the table ranks, and overhead.py / throughput.py give epoch times.
"""

import argparse
import random
import tempfile
import time
from pathlib import Path

from common import pin_threads
from overhead import same_network
from workloads import WORKLOADS


def profile(workload_name: str, steps: int, rows: int) -> None:
    import torch
    from torch.profiler import ProfilerActivity, record_function

    workload = next(w for w in WORKLOADS if w.name == workload_name)
    with tempfile.TemporaryDirectory() as folder:
        config, data, model = same_network(workload, Path(folder), epochs=1)
        batches = list(data.train_dataloader())
    # the optimizer seqlab builds; its schedule (which asks a Trainer for max_epochs) does not
    # change a step's cost
    model.hparams["optim"]["scheduler"] = "none"
    optimizer = model.configure_optimizers()
    clip = config.trainer.get("gradient_clip_val")
    sizes = {name: tuple(p.shape) for name, p in model.named_parameters()}
    print(f"parameters: {sum(p.numel() for p in model.parameters()):,} {sizes}")
    print(f"optimizer: {type(optimizer).__name__} {optimizer.defaults.get('fused')=}")
    chosen = random.Random(0).sample(batches, min(steps, len(batches)))

    def step(batch) -> None:
        optimizer.zero_grad(set_to_none=True)
        with record_function("forward"):
            loss = model.loss_fn(model(batch), batch.labels)
        with record_function("backward"):
            loss.backward()
        if clip:
            with record_function("clip"):
                torch.nn.utils.clip_grad_norm_(list(model.parameters()), clip)
        with record_function("optimizer"):
            optimizer.step()

    model.train()
    for batch in chosen[:3]:
        step(batch)
    start = time.perf_counter()
    with torch.profiler.profile(activities=[ProfilerActivity.CPU]) as prof:
        for batch in chosen:
            step(batch)
    print(f"{len(chosen)} steps in {time.perf_counter() - start:.2f} s (profiled)")
    print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=rows))
    print(prof.key_averages().table(sort_by="cpu_time_total", row_limit=rows))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workload", default="r8_bilstm")
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--rows", type=int, default=25)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    pin_threads(args.threads)
    profile(args.workload, args.steps, args.rows)


if __name__ == "__main__":
    main()
