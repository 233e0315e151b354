"""Many Optuna workers on one study: 1, 2 and 4 processes started at once on one sqlite study.

    OMP_NUM_THREADS=1 python benchmarks/optuna_workers.py \
        --out benchmarks/results/2026-12-07_optuna_workers.md

Each round starts N `seqlab-train -m hparams_search=mlp_optuna` workers at the same moment on a
fresh sqlite study (same study_name, n_trials), each with its own sweep dir, on a small MLP for a
few epochs, and reports: trials COMPLETE, PRUNED and FAIL in the study, draws skipped as repeats,
parameter sets run twice, workers that exited non-zero, and the wall time of the round (start of
the first worker to exit of the last), split from the workers' logs into start-up (process start
to the study opened: imports, Hydra's composition, the search-space check), searching (study
opened to the worker's last log line) and exit (its last log line to its exit). A correctness
check first: on a 2-core machine 4 workers share the cores, so the wall time is not a speed-up
measurement.
"""

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from contextlib import ExitStack
from pathlib import Path

# mlp_optuna's space with small layer sizes and a few epochs, so that a trial takes seconds.
TINY = [
    "trainer.max_epochs=3",
    "logger.wandb.enabled=false",
    "print_parameters=false",
    "model.hidden_sizes=choice([16],[32],[16,16])",
]


def round_of(workers: int, n_trials: int, root: Path) -> dict:
    import optuna
    from optuna.trial import TrialState

    from hydra_plugins.seqlab_optuna_sweeper import slots

    folder = root / f"{workers}_workers"
    storage = f"sqlite:///{folder / 'study.db'}"
    commands = [
        [
            sys.executable, "-m", "seqlab.cli.train", "-m", "hparams_search=mlp_optuna",
            f"hydra.sweeper.storage={storage}", "hydra.sweeper.study_name=bench",
            f"hydra.sweeper.n_trials={n_trials}", f"hydra.sweep.dir={folder / f'w{i}'}", *TINY,
        ]
        for i in range(workers)
    ]  # fmt: skip
    folder.mkdir(parents=True)
    with ExitStack() as stack:
        logs = [stack.enter_context(open(folder / f"w{i}.log", "w")) for i in range(workers)]
        start, started = time.perf_counter(), time.time()
        processes = [
            subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
            for command, log in zip(commands, logs, strict=True)
        ]
        statuses, exits = [], []
        for process in processes:
            statuses.append(process.wait())
            exits.append(time.time())
        wall = time.perf_counter() - start
    phases = [
        phases_of((folder / f"w{i}.log").read_text(), started, exits[i]) for i in range(workers)
    ]
    study = optuna.load_study(study_name="bench", storage=storage)
    trials = study.get_trials(deepcopy=False)
    ran = [t for t in trials if t.state != TrialState.FAIL or slots.FAILURE_ATTR in t.user_attrs]
    repeats = Counter(tuple(sorted(t.params.items())) for t in ran)
    return {
        "workers": workers,
        "complete": sum(t.state == TrialState.COMPLETE for t in trials),
        "pruned": sum(t.state == TrialState.PRUNED for t in trials),
        "failed": sum(slots.FAILURE_ATTR in t.user_attrs for t in trials),
        "running": sum(t.state == TrialState.RUNNING for t in trials),
        "skipped": sum(slots.SKIPPED_ATTR in t.user_attrs for t in trials),
        "repeated": sum(count - 1 for count in repeats.values()),
        "failed_workers": sum(status != 0 for status in statuses),
        "wall_s": wall,
        "startup_s": statistics.median(p[0] for p in phases),
        "search_s": statistics.median(p[1] for p in phases),
        "exit_s": statistics.median(p[2] for p in phases),
        "per_worker": Counter(t.user_attrs.get(slots.WORKER_ATTR, "?") for t in ran),
    }


STAMP = re.compile(r"^\[(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3})\]\[HYDRA\] (.*)$", re.M)


def phases_of(log: str, started: float, ended: float) -> tuple[float, float, float]:
    """(start-up, searching, exit) seconds of one worker, from its Hydra log's timestamps. A
    worker's exit is noted when the round's wait reaches it, so exit is an upper bound."""
    stamps = [
        (time.mktime(time.strptime(stamp[:19], "%Y-%m-%d %H:%M:%S")) + int(stamp[20:]) / 1000, text)
        for stamp, text in STAMP.findall(log)
    ]
    opened = next(t for t, text in stamps if text.startswith("Optuna study"))
    last = stamps[-1][0]
    return opened - started, last - opened, ended - last


def report(rows: list[dict], n_trials: int) -> str:
    load = os.getloadavg()[0]
    lines = [
        f"# Optuna: many workers on one sqlite study (n_trials={n_trials})",
        "",
        "```bash",
        "OMP_NUM_THREADS=1 python benchmarks/optuna_workers.py "
        "--out benchmarks/results/2026-12-07_optuna_workers.md",
        "```",
        "",
        f"Machine: {os.cpu_count()} CPU cores shared with other sessions (load average "
        f"{load:.1f} at the end). hparams_search=mlp_optuna (TPE, constant liar, MedianPruner), "
        f"{' '.join(TINY)}; every worker started at the same moment, each with its own sweep dir.",
        "Start-up, searching and exit: the median over the round's workers (module docstring).",
        "",
        "| workers | COMPLETE | PRUNED | FAIL (job) | still RUNNING | draws skipped as repeats "
        "| parameter sets run twice | failed workers | trials per worker | wall s "
        "| start-up s | searching s | exit s |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        per_worker = ", ".join(str(n) for n in sorted(row["per_worker"].values(), reverse=True))
        lines.append(
            f"| {row['workers']} | {row['complete']} | {row['pruned']} | {row['failed']} | "
            f"{row['running']} | {row['skipped']} | {row['repeated']} | {row['failed_workers']} "
            f"| {per_worker} | {row['wall_s']:.0f} | {row['startup_s']:.0f} | "
            f"{row['search_s']:.0f} | {row['exit_s']:.0f} |"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--workers", default="1,2,4", help="worker counts, one round each")
    parser.add_argument("--n-trials", type=int, default=8)
    parser.add_argument("--out", type=Path, help="the markdown report (default: print it)")
    parser.add_argument("--root", type=Path, help="where the studies go (default: a temp dir)")
    args = parser.parse_args()
    root = args.root or Path(tempfile.mkdtemp(prefix="optuna_workers_"))
    rows = []
    for workers in (int(n) for n in args.workers.split(",")):
        rows.append(round_of(workers, args.n_trials, root))
        print(rows[-1], flush=True)
    text = report(rows, args.n_trials)
    if args.out:
        args.out.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
