"""seqlab-report DIR...: a leaderboard of run dirs and sweep dirs (seqlab.reports.leaderboard)."""

import argparse
from pathlib import Path

from seqlab.cli import user_errors
from seqlab.reports.leaderboard import OUTPUT_NAMES, collect_runs, leaderboard, write_outputs

DESCRIPTION = "Turn run dirs (single runs, multirun or Optuna sweep dirs) into a leaderboard."


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="seqlab-report", description=DESCRIPTION)
    parser.add_argument("dirs", nargs="+", type=Path, help="run dirs and/or sweep dirs")
    parser.add_argument("--sort", default="test/f1", help="metric to rank by (default test/f1)")
    parser.add_argument("--out", type=Path, help="output folder")
    args = parser.parse_args(argv)
    out = args.out or (args.dirs[0] if len(args.dirs) == 1 else Path.cwd())
    with user_errors():
        rows, failed = leaderboard(collect_runs(args.dirs), args.sort)
        paths = write_outputs(rows, failed, args.sort, out)
    print((out / OUTPUT_NAMES[0]).read_text(), end="")
    print(f"wrote {', '.join(str(p) for p in paths)}")


if __name__ == "__main__":
    main()
