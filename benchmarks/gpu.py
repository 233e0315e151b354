"""`make bench-gpu`: the overhead and throughput tables on one GPU, samples per second at several
batch sizes, and the share of time the GPU is busy.

    PYTHONPATH=src python benchmarks/gpu.py [--dry-run] [--out DIR]

For each precision (32-true, bf16-mixed; cuDNN's recurrent kernels): seqlab's full path, bare
Lightning and the hand-written loop per epoch, alternating, as benchmarks/overhead.py does on
the CPU, and the bare kernel's throughput (benchmarks/throughput.py); then seqlab's training
samples per second for GunPoint LSTM, R8 BiLSTM and CDNOW GRU at batch sizes 64, 256 and 1024,
with the share of one training epoch's wall time during which the GPU ran kernels (from
torch.profiler's CUDA kernel times; kernels on concurrent streams could count twice, so the
share is capped at 1). Writes benchmarks/results/gpu_<date>.json and .md.

--dry-run runs the same code on the CPU with one short run of each part (the test suite runs
it), so the benchmark works the first time a GPU is there; its figures mean nothing.
"""

import argparse
import datetime
import json
import time
from dataclasses import dataclass, replace
from pathlib import Path

import overhead
import throughput
from common import RESULTS_DIR, Target, pin_threads, spread
from workloads import WORKLOADS

PRECISIONS = ("32-true", "bf16-mixed")
BATCH_SIZES = (64, 256, 1024)
BATCH_SIZE_WORKLOADS = ("gunpoint_lstm", "r8_bilstm", "cdnow_gru")


@dataclass(frozen=True)
class Plan:
    device: str
    precisions: tuple[str, ...]
    overhead_workloads: tuple[str, ...]
    batch_sizes: tuple[int, ...]
    batch_size_workloads: tuple[str, ...]
    repeats: int | None  # None: each workload's own
    epochs: int | None
    kernel_repeats: int


FULL = Plan("cuda", PRECISIONS, tuple(w.name for w in WORKLOADS), BATCH_SIZES,
            BATCH_SIZE_WORKLOADS, None, None, 7)  # fmt: skip
DRY_RUN = Plan("cpu", PRECISIONS, ("parity",), (64,), ("gunpoint_lstm",), 1, 3, 2)


def dry_run_plan() -> Plan:
    """The dry run's plan on this CPU: bf16-mixed only where oneDNN has bf16 kernels (without
    them its LSTM cannot be built, and the GPU run it stands in for never takes that path)."""
    import torch

    if torch.ops.mkldnn._is_mkldnn_bf16_supported():
        return DRY_RUN
    return replace(DRY_RUN, precisions=("32-true",))


def gpu_busy(epoch: int, found: dict):
    """A callback profiling training epoch `epoch`: its wall time and its kernels' time."""
    import torch
    from lightning.pytorch.callbacks import Callback

    class GpuBusy(Callback):
        def on_train_epoch_start(self, trainer, pl_module) -> None:
            if trainer.current_epoch != epoch:
                return
            activities = [torch.profiler.ProfilerActivity.CPU]
            if torch.cuda.is_available():
                activities.append(torch.profiler.ProfilerActivity.CUDA)
            self.profiler = torch.profiler.profile(activities=activities)
            overhead.synchronize()
            self.profiler.__enter__()
            self.start = time.perf_counter()

        def on_train_epoch_end(self, trainer, pl_module) -> None:
            if trainer.current_epoch != epoch:
                return
            overhead.synchronize()
            wall = time.perf_counter() - self.start
            self.profiler.__exit__(None, None, None)
            kernels_us = sum(
                event.self_device_time_total
                for event in self.profiler.key_averages()
                if event.device_type == torch.autograd.DeviceType.CUDA
            )
            found["epoch_s"] = wall
            found["busy"] = min(1.0, kernels_us / 1e6 / wall) if torch.cuda.is_available() else None

    return GpuBusy()


def batch_size_row(name: str, batch_size: int, target: Target, epochs: int) -> dict:
    workload = next(w for w in WORKLOADS if w.name == name)
    found: dict = {}
    run = overhead.seqlab_run(
        workload,
        epochs,
        target,
        extra=(f"data.batch_size={batch_size}",),
        observers=(gpu_busy(epochs - 1, found),),  # the last epoch, after warm-up
    )
    kernel = throughput.kernel_epoch(workload, repeats=2, target=target)
    return {
        "workload": name,
        "precision": target.precision,
        "batch_size": batch_size,
        "samples_per_s": kernel["samples"] / run["epoch_s"],
        "gpu_busy": found.get("busy"),
    }


def run(plan: Plan) -> dict:
    import torch

    results: dict = {
        "date": datetime.datetime.now().isoformat(timespec="seconds"),
        "device": torch.cuda.get_device_name() if plan.device == "cuda" else "cpu (dry run)",
        "dry_run": plan.device != "cuda",
        "overhead": [],
        "batch_sizes": [],
    }
    for precision in plan.precisions:
        target = Target(plan.device, precision)
        for workload in WORKLOADS:
            if workload.name not in plan.overhead_workloads:
                continue
            repeats, epochs = plan.repeats or workload.repeats, plan.epochs or workload.epochs
            row = overhead.measure(workload, repeats, epochs, target)
            row.update(throughput.kernel_epoch(workload, plan.kernel_repeats, target))
            row["precision"] = precision
            row["seqlab_over_kernel"] = (
                row["samples"] / row["seqlab_epoch_s"]["median"] / row["kernel_samples_per_s"]
            )
            results["overhead"].append(row)
            print(f"{precision} {workload.name}: done", flush=True)
        for name in plan.batch_size_workloads:
            for batch_size in plan.batch_sizes:
                epochs = plan.epochs or 4
                results["batch_sizes"].append(batch_size_row(name, batch_size, target, epochs))
    return results


def markdown(results: dict) -> str:
    ms = 1000
    lines = [
        f"# seqlab GPU benchmarks, {results['date']}, {results['device']}",
        "",
        "Dry run on the CPU: the figures mean nothing."
        + "".join(
            f" {p}: not run, this CPU has no bf16 kernels."
            for p in results.get("skipped_precisions", [])
        )
        if results["dry_run"]
        else "",
        "",
        "## Per epoch (ms; median [range]; differences paired run by run)",
        "",
        "| precision | workload | plain loop | bare Lightning | seqlab | seqlab - bare Lightning "
        "| ratio to bare Lightning | seqlab / kernel throughput |",
        "|---|---|---|---|---|---|---|---|",
    ]

    def cell(values: dict, scale: float = ms, digits: int = 1) -> str:
        return (
            f"{scale * values['median']:.{digits}f} "
            f"[{scale * values['min']:.{digits}f}, {scale * values['max']:.{digits}f}]"
        )

    for row in results["overhead"]:
        ratio = spread(
            [
                s / b
                for s, b in zip(
                    row["seqlab_epoch_s"]["runs"], row["lightning_epoch_s"]["runs"], strict=True
                )
            ]
        )
        lines.append(
            f"| {row['precision']} | {row['workload']} | {cell(row['plain_epoch_s'])} | "
            f"{cell(row['lightning_epoch_s'])} | {cell(row['seqlab_epoch_s'])} | "
            f"{cell(row['over_lightning_epoch_s'])} | {cell(ratio, 1, 2)} | "
            f"{row['seqlab_over_kernel']:.2f} |"
        )
    lines += [
        "",
        "## Training samples per second by batch size (seqlab), and the GPU's busy share",
        "",
        "| precision | workload | batch size | samples/s | GPU busy |",
        "|---|---|---|---|---|",
    ]
    for row in results["batch_sizes"]:
        busy = "n/a" if row["gpu_busy"] is None else f"{100 * row['gpu_busy']:.0f}%"
        lines.append(
            f"| {row['precision']} | {row['workload']} | {row['batch_size']} | "
            f"{row['samples_per_s']:.0f} | {busy} |"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> Path:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dry-run", action="store_true", help="on the CPU, one short run each")
    parser.add_argument("--out", type=Path, default=RESULTS_DIR, help="folder for the results")
    parser.add_argument("--threads", type=int, default=1, help="torch threads on the CPU")
    args = parser.parse_args(argv)
    if not args.dry_run:
        import torch

        if not torch.cuda.is_available():
            parser.error("no GPU found (torch.cuda.is_available() is False); --dry-run runs on CPU")
        torch.backends.cudnn.enabled = True  # the default; named because the table says cuDNN
    pin_threads(args.threads)
    plan = dry_run_plan() if args.dry_run else FULL
    results = run(plan)
    results["skipped_precisions"] = [p for p in PRECISIONS if p not in plan.precisions]
    args.out.mkdir(parents=True, exist_ok=True)
    stem = args.out / f"gpu_{datetime.date.today().isoformat()}{'_dry_run' if args.dry_run else ''}"
    stem.with_suffix(".json").write_text(json.dumps(results, indent=2) + "\n")
    stem.with_suffix(".md").write_text(markdown(results))
    print(markdown(results))
    return stem


if __name__ == "__main__":
    main()
