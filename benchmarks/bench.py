"""`make bench`: every benchmark once, written to benchmarks/results/<date>.json and <date>.md.

    PYTHONPATH=src python benchmarks/bench.py [--quick | --smoke] [--threads 1] [--out DIR]

Measures and reports, never fails on a time: these machines are shared and noisy, so the
comparisons that matter are ratios of runs made side by side in one process, alternating, with
medians and ranges over the repeats. --quick runs fewer repeats and epochs; --smoke the fewest
that still exercise every workload and table (CI runs it; its figures mean nothing).
"""

import argparse
import datetime
import json
import os
import platform
import time
from dataclasses import dataclass, replace
from pathlib import Path

import data_prep
import overhead
import startup
import throughput
from common import RESULTS_DIR, pin_threads
from workloads import WORKLOADS

from seqlab.files import write_text_atomic


@dataclass(frozen=True)
class Sizes:
    """How much of each measurement a run makes: None keeps the workload's own figure."""

    repeats: int | None = None
    max_epochs: int | None = None
    kernel_repeats: int = 7  # the first pass warms up and is not counted
    data_prep_repeats: int = 5
    startup_repeats: int = 3
    rss_epochs: int = 20
    max_batches: int | None = None  # per split and epoch (None: every batch)


FULL = Sizes()
QUICK = Sizes(repeats=2, max_epochs=6, data_prep_repeats=2, startup_repeats=1, rss_epochs=2)
# Three epochs: the first is warm-up and the per-epoch figure needs two starts after it.
SMOKE = Sizes(1, 3, 2, data_prep_repeats=1, startup_repeats=1, rss_epochs=2, max_batches=3)


def run(sizes: Sizes, threads: int, names: list[str] | None) -> dict:
    results: dict = {
        "date": datetime.datetime.now().isoformat(timespec="seconds"),
        "machine": f"{platform.machine()}, {os.cpu_count()} cpus, load {os.getloadavg()[0]:.1f}",
        "torch_threads": threads,
        "quick": sizes != FULL,
        "workloads": [],
    }
    for workload in WORKLOADS:
        if names and workload.name not in names:
            continue
        if sizes.max_batches is not None:
            limits = [f"++trainer.limit_{s}_batches={sizes.max_batches}" for s in ("train", "test")]
            if workload.validation:
                limits.append(f"++trainer.limit_val_batches={sizes.max_batches}")
            workload = replace(workload, overrides=[*workload.overrides, *limits])
        repeats = sizes.repeats or workload.repeats
        epochs = min(sizes.max_epochs or workload.epochs, workload.epochs)
        row = overhead.measure(workload, repeats, epochs)
        row.update(throughput.kernel_epoch(workload, sizes.kernel_repeats))
        samples = row["samples"]
        row["seqlab_samples_per_s"] = samples / row["seqlab_epoch_s"]["median"]
        row["plain_samples_per_s"] = samples / row["plain_epoch_s"]["median"]
        row["seqlab_over_kernel"] = row["seqlab_samples_per_s"] / row["kernel_samples_per_s"]
        row["plain_over_kernel"] = row["plain_samples_per_s"] / row["kernel_samples_per_s"]
        results["workloads"].append(row)
        print(f"{workload.name}: done", flush=True)
    results["data_prep"] = data_prep.measure(sizes.data_prep_repeats)
    results["startup"] = startup.measure(sizes.startup_repeats, threads, sizes.rss_epochs)
    results["machine_load_after"] = os.getloadavg()[0]
    return results


def markdown(results: dict) -> str:
    ms = 1000
    lines = [
        f"# seqlab benchmarks, {results['date']}",
        "",
        f"{results['machine']} at the start, {results['machine_load_after']:.1f} at the end; "
        f"torch threads {results['torch_threads']}"
        + (" (--quick: too few repeats to quote)" if results["quick"] else ""),
        "",
        "## Overhead per epoch: seqlab's full path vs a plain PyTorch loop (same process, "
        "alternating runs; median [range])",
        "",
        "Bare Lightning: a `barebones` Trainer on the same module and loaders, the floor "
        "Lightning itself sets. Differences and ratios are paired run by run.",
        "",
        "| workload | validation | epochs x runs | plain ms/epoch | bare Lightning ms/epoch "
        "| seqlab ms/epoch | seqlab - plain ms | ratio | bare Lightning - plain ms "
        "| seqlab - bare Lightning ms |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]

    def cell(spread: dict, scale: float = ms, digits: int = 1) -> str:
        return (
            f"{scale * spread['median']:.{digits}f} "
            f"[{scale * spread['min']:.{digits}f}, {scale * spread['max']:.{digits}f}]"
        )

    for row in results["workloads"]:
        lines.append(
            f"| {row['workload']} | {'yes' if row['validation'] else 'no'} | "
            f"{row['epochs']} x {row['repeats']} | {cell(row['plain_epoch_s'])} | "
            f"{cell(row['lightning_epoch_s'])} | {cell(row['seqlab_epoch_s'])} | "
            f"{cell(row['diff_epoch_s'])} | {cell(row['ratio'], 1, 2)} | "
            f"{cell(row['lightning_diff_epoch_s'])} | {cell(row['over_lightning_epoch_s'])} |"
        )
    lines += [
        "",
        "## CPU time per epoch (ms; the process's every thread; median [range] over the runs)",
        "",
        "Less sensitive than wall time to other processes on a shared machine.",
        "",
        "| workload | plain | bare Lightning | seqlab | seqlab - bare Lightning |",
        "|---|---|---|---|---|",
    ]
    for row in results["workloads"]:
        lines.append(
            f"| {row['workload']} | {cell(row['plain_epoch_cpu_s'])} | "
            f"{cell(row['lightning_epoch_cpu_s'])} | {cell(row['seqlab_epoch_cpu_s'])} | "
            f"{cell(row['over_lightning_epoch_cpu_s'])} |"
        )
    lines += [
        "",
        "## Throughput against the bare kernel (training samples per second)",
        "",
        "| workload | bare kernel fwd+bwd | plain loop | seqlab | seqlab / kernel "
        "| plain / kernel |",
        "|---|---|---|---|---|---|",
    ]
    for row in results["workloads"]:
        lines.append(
            f"| {row['workload']} | {row['kernel_samples_per_s']:.0f} | "
            f"{row['plain_samples_per_s']:.0f} | {row['seqlab_samples_per_s']:.0f} | "
            f"{row['seqlab_over_kernel']:.2f} | {row['plain_over_kernel']:.2f} |"
        )
    lines += [
        "",
        "## Outside the epochs (seqlab side of the overhead runs, medians)",
        "",
        "| workload | compose + validate s | train() start to first step s "
        "| after fit (test best ckpt, plots, files) s |",
        "|---|---|---|---|",
    ]
    for row in results["workloads"]:
        lines.append(
            f"| {row['workload']} | {row['seqlab_compose_s']:.2f} | "
            f"{row['seqlab_to_first_step_s']:.2f} | {row['seqlab_after_fit_s']:.2f} |"
        )
    start = results["startup"]
    lines += [
        "",
        "## Start-up and memory (fresh processes, experiment=gunpoint_lstm)",
        "",
        "| measure | value |",
        "|---|---|",
        f"| `seqlab-train --cfg job` | {start['cfg_job_s']:.2f} s |",
        f"| heavy modules it imports | {start['cfg_job_imports'].removeprefix('HEAVY ')} |",
        "| `import seqlab.training.pipeline` (torch, lightning, ...) | "
        f"{start['import_pipeline_s']:.2f} s "
        "|",
        f"| command start to first training step | {start['to_first_step_s']:.2f} s |",
        f"| peak RSS, {start['peak_rss_epochs']} epochs | {start['peak_rss_mib']:.0f} MiB |",
        f"| `python -c 'import torch'` | {start['import_torch_s']:.2f} s |",
        "| `seqlab-predict` on GunPoint's test file (150 series, labelled) | "
        f"{start['predict_s']:.2f} s ({start['predict_over_import_torch']:.2f}x import torch) |",
        f"| heavy modules seqlab-predict imports | "
        f"{start['predict_imports'].removeprefix('HEAVY ')} |",
        "",
        "## Data preparation (`setup('fit')` of a fresh data module)",
        "",
        "| data | first ms | repeated ms |",
        "|---|---|---|",
    ]
    for row in results["data_prep"]:
        lines.append(
            f"| {row['data']} | {ms * row['first_setup_s']:.1f} | "
            f"{ms * row['repeat_setup_s']:.1f} |"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sizes = parser.add_mutually_exclusive_group()
    sizes.add_argument("--quick", action="store_true", help="fewer repeats and epochs")
    sizes.add_argument("--smoke", action="store_true", help="the fewest; figures mean nothing")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--workload", action="append", help="overhead workloads (default: all)")
    parser.add_argument("--out", type=Path, default=RESULTS_DIR, help="folder for the results")
    args = parser.parse_args()
    pin_threads(args.threads)
    start = time.perf_counter()
    chosen = SMOKE if args.smoke else QUICK if args.quick else FULL
    results = run(chosen, args.threads, args.workload)
    results["bench_s"] = time.perf_counter() - start
    args.out.mkdir(parents=True, exist_ok=True)
    suffix = "_smoke" if args.smoke else "_quick" if args.quick else ""
    stem = args.out / f"{datetime.date.today().isoformat()}{suffix}"
    table = markdown(results)
    write_text_atomic(stem.with_suffix(".json"), json.dumps(results, indent=2) + "\n")
    write_text_atomic(stem.with_suffix(".md"), table)
    print(table)
    print(f"written: {stem}.json, {stem}.md ({results['bench_s']:.0f} s)")


if __name__ == "__main__":
    main()
