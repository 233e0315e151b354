"""`make bench`: every benchmark once, written to benchmarks/results/<date>.json and <date>.md.

    PYTHONPATH=src python benchmarks/bench.py [--quick] [--threads 1]

Measures and reports, never fails on a time: these machines are shared and noisy, so the
comparisons that matter are ratios of runs made side by side in one process, alternating, with
medians and ranges over the repeats. --quick runs fewer repeats (a smoke test of the suite).
"""

import argparse
import datetime
import json
import os
import platform
import time

import data_prep
import overhead
import startup
import throughput
from common import RESULTS_DIR, pin_threads
from workloads import WORKLOADS


def run(quick: bool, threads: int, names: list[str] | None) -> dict:
    results: dict = {
        "date": datetime.datetime.now().isoformat(timespec="seconds"),
        "machine": f"{platform.machine()}, {os.cpu_count()} cpus, load {os.getloadavg()[0]:.1f}",
        "torch_threads": threads,
        "quick": quick,
        "workloads": [],
    }
    for workload in WORKLOADS:
        if names and workload.name not in names:
            continue
        repeats = 2 if quick else workload.repeats
        epochs = min(6, workload.epochs) if quick else workload.epochs
        row = overhead.measure(workload, repeats, epochs)
        row.update(throughput.kernel_epoch(workload))
        samples = row["samples"]
        row["seqlab_samples_per_s"] = samples / row["seqlab_epoch_s"]["median"]
        row["plain_samples_per_s"] = samples / row["plain_epoch_s"]["median"]
        row["seqlab_over_kernel"] = row["seqlab_samples_per_s"] / row["kernel_samples_per_s"]
        row["plain_over_kernel"] = row["plain_samples_per_s"] / row["kernel_samples_per_s"]
        results["workloads"].append(row)
        print(f"{workload.name}: done", flush=True)
    results["data_prep"] = data_prep.measure(repeats=2 if quick else 5)
    results["startup"] = startup.measure(1 if quick else 3, threads, rss_epochs=2 if quick else 20)
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
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--workload", action="append", help="overhead workloads (default: all)")
    args = parser.parse_args()
    pin_threads(args.threads)
    start = time.perf_counter()
    results = run(args.quick, args.threads, args.workload)
    results["bench_s"] = time.perf_counter() - start
    RESULTS_DIR.mkdir(exist_ok=True)
    stem = RESULTS_DIR / datetime.date.today().isoformat()
    if args.quick:
        stem = stem.with_name(stem.name + "_quick")
    stem.with_suffix(".json").write_text(json.dumps(results, indent=2) + "\n")
    table = markdown(results)
    stem.with_suffix(".md").write_text(table)
    print(table)
    print(f"written: {stem}.json, {stem}.md ({results['bench_s']:.0f} s)")


if __name__ == "__main__":
    main()
