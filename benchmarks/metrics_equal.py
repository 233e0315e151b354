"""A refactor keeps the numbers: the shipped experiments' metrics.json from two source trees.

    python benchmarks/metrics_equal.py run --src /path/to/old/checkout/src --out /tmp/eq/before
    python benchmarks/metrics_equal.py run --src src --out /tmp/eq/after
    python benchmarks/metrics_equal.py compare /tmp/eq/before /tmp/eq/after

`--experiments` and `--seeds` (on both commands) restrict the matrix, e.g.
`--experiments gunpoint_lstm cdnow_tag_gru --seeds 1`.

`run` trains each shipped experiment below on two seeds with the given tree first on
PYTHONPATH (one thread, CSV logger, epochs capped so the whole matrix takes minutes, not hours:
every code path of a full run is taken in its first epochs). `compare` prints each metric side by
side and exits 1 when any differs by more than 1e-6 or a run is missing on either side.
"""

import argparse
import json
import math
import os
import subprocess
import sys
from pathlib import Path

# experiment -> the overrides that shorten it; the seeds are the same for every experiment.
RUNS: dict[str, list[str]] = {
    "gunpoint_lstm": ["trainer.max_epochs=30"],
    "gunpoint_mlp": ["trainer.max_epochs=30"],
    "cdnow_gru": ["trainer.max_epochs=2"],
    "cdnow_tag_gru": ["trainer.max_epochs=2"],
    "r8_bilstm": ["trainer.max_epochs=1", "+trainer.limit_train_batches=40"],
}
SEEDS = (1, 2)
TOLERANCE = 1e-6


def run(src: Path, out: Path, experiments: list[str], seeds: list[int]) -> None:
    env = {
        **os.environ,
        "PYTHONPATH": str(src.resolve()),
        "OMP_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
        "WANDB_MODE": "disabled",
    }
    for experiment in experiments:
        overrides = RUNS[experiment]
        for seed in seeds:
            run_dir = out / f"{experiment}_seed{seed}"
            if (run_dir / "metrics.json").exists():
                continue
            command = [
                sys.executable, "-m", "seqlab.cli.train", f"experiment={experiment}",
                f"seed={seed}", "logger=csv", f"hydra.run.dir={run_dir}", *overrides,
            ]  # fmt: skip
            print(" ".join(command[2:]), flush=True)
            subprocess.run(command, env=env, check=True, stdout=subprocess.DEVNULL)


def flat(metrics: dict, prefix: str = "") -> dict[str, float]:
    values: dict[str, float] = {}
    for key, value in metrics.items():
        if isinstance(value, dict):
            values.update(flat(value, f"{prefix}{key}."))
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            values[f"{prefix}{key}"] = float(value)
    return values


def compare(before: Path, after: Path, experiments: list[str], seeds: list[int]) -> int:
    differences = 0
    for experiment in experiments:
        for seed in seeds:
            name = f"{experiment}_seed{seed}"
            paths = [before / name / "metrics.json", after / name / "metrics.json"]
            if not all(path.exists() for path in paths):
                print(f"{name}: missing {[str(p) for p in paths if not p.exists()]}")
                differences += 1
                continue
            old, new = (flat(json.loads(path.read_text())) for path in paths)
            for key in sorted(old.keys() | new.keys()):
                a, b = old.get(key, math.nan), new.get(key, math.nan)
                same = abs(a - b) <= TOLERANCE or (math.isnan(a) and math.isnan(b))
                if not same or key.startswith("test/"):
                    mark = "" if same else "   <-- differs"
                    print(f"{name:24} {key:32} {a:12.8f} {b:12.8f}{mark}")
                differences += not same
    print(f"{differences} difference(s) above {TOLERANCE}")
    return 1 if differences else 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    run_parser = commands.add_parser("run", help="train the matrix with one source tree")
    run_parser.add_argument("--src", type=Path, required=True)
    run_parser.add_argument("--out", type=Path, required=True)
    compare_parser = commands.add_parser("compare", help="metrics.json side by side")
    compare_parser.add_argument("before", type=Path)
    compare_parser.add_argument("after", type=Path)
    for command in (run_parser, compare_parser):
        command.add_argument("--experiments", nargs="+", choices=list(RUNS), default=list(RUNS))
        command.add_argument("--seeds", nargs="+", type=int, default=list(SEEDS))
    args = parser.parse_args()
    if args.command == "run":
        run(args.src, args.out, args.experiments, args.seeds)
    else:
        sys.exit(compare(args.before, args.after, args.experiments, args.seeds))


if __name__ == "__main__":
    main()
