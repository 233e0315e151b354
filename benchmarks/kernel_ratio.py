"""Training throughput against the bare kernel in CPU time, alternating in one process.

    PYTHONPATH=src python benchmarks/kernel_ratio.py --workload r8_bilstm --repeats 3

bench.py divides wall times measured minutes apart; on a shared machine whose load moves, the
kernel and the training runs then see different shares of a core. Here each repeat times the
bare kernel's epoch (throughput.py) and then a seqlab run (overhead.py) back to back, and the
ratio is taken per repeat in CPU time (the process's every thread), beside the wall-time one.
"""

import argparse
import json
import statistics

from common import pin_threads, spread
from overhead import seqlab_run
from throughput import kernel_epoch
from workloads import WORKLOADS


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workload", default="r8_bilstm")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--epochs", type=int, help="default: the workload's")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    pin_threads(args.threads)
    workload = next(w for w in WORKLOADS if w.name == args.workload)
    cpu, wall = [], []
    for _ in range(args.repeats):
        kernel = kernel_epoch(workload, repeats=3)
        run = seqlab_run(workload, args.epochs or workload.epochs)
        cpu.append(kernel["kernel_epoch_cpu_s"] / run["epoch_cpu_s"])
        wall.append(kernel["kernel_epoch_s"] / run["epoch_s"])
        print(json.dumps({**kernel, **run}), flush=True)
    print(
        json.dumps(
            {
                "workload": workload.name,
                "seqlab_over_kernel_cpu": spread(cpu),
                "seqlab_over_kernel_wall": spread(wall),
                "median_cpu": statistics.median(cpu),
            }
        )
    )


if __name__ == "__main__":
    main()
