"""seqlab-ucr: experiments x UCR datasets x seeds through Hydra multiruns of seqlab-train, then
the table of test accuracy beside published references (seqlab.reports.ucr_bench).

    seqlab-ucr --experiments gunpoint_mlp --root ../shared/datasets/ucr2015 --datasets all \
        --seeds 1,2,3,4,5 --out outputs/ucr/all -- logger=csv

Arguments after `--` go to every seqlab-train job as Hydra overrides.
"""

import argparse
import subprocess
import sys
from pathlib import Path

from seqlab.cli import user_errors
from seqlab.errors import SeqlabError
from seqlab.reports import ucr_bench

DESCRIPTION = "Run experiments over UCR datasets with several seeds; tabulate against references."


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="seqlab-ucr", description=DESCRIPTION)
    parser.add_argument(
        "--experiments", default="gunpoint_mlp", help="conf/experiment/ names, comma-separated"
    )
    parser.add_argument(
        "--root",
        type=Path,
        help="folder of UCR files (.ts or UCR 2015); default: the sktime wheel's",
    )
    parser.add_argument(
        "--datasets", default="all", help="names, comma-separated, or all (every set in --root)"
    )
    parser.add_argument("--seeds", default="1,2,3,4,5", help="seeds, comma-separated")
    parser.add_argument("--out", type=Path, default=Path("outputs/ucr/bench"), help="output folder")
    parser.add_argument(
        "--report-only", action="store_true", help="tabulate finished cells, run none"
    )
    parser.add_argument("--no-wandb", action="store_true", help="skip the W&B table")
    parser.add_argument("overrides", nargs="*", help="Hydra overrides for every job (after --)")
    args = parser.parse_args(argv)
    with user_errors():
        experiments = ucr_bench.split_names(args.experiments)
        available = ucr_bench.find_datasets(args.root)
        everything = args.datasets.strip() == "all"
        datasets = available if everything else ucr_bench.split_names(args.datasets, available)
        seeds = ucr_bench.parse_seeds(args.seeds)
        root = args.root.resolve() if args.root is not None else None
        out = args.out.resolve()
        failed = 0
        ucr_bench.check_settings(out, root, args.overrides, record=not args.report_only)
        if not args.report_only:
            cells = ucr_bench.plan(out, experiments, datasets, seeds)
            total = len(experiments) * len(datasets) * len(seeds)
            print(
                f"seqlab-ucr: {len(cells)} of {total} cells to run ({total - len(cells)} finished)"
            )
            for overrides in ucr_bench.multirun_overrides(cells, out, root, args.overrides):
                command = [sys.executable, "-m", "seqlab.cli.train", "-m", *overrides]
                print("seqlab-ucr: " + " ".join(command[2:]), flush=True)
                failed += subprocess.run(command).returncode != 0
        results = ucr_bench.collect(out, experiments, datasets, seeds)
        if not any(values for r in results for values in r.accuracy.values()):
            raise SeqlabError(f"{out}: no finished cell to tabulate; run without --report-only")
        paths = ucr_bench.write_report(results, experiments, out)
        if not args.no_wandb:
            ucr_bench.log_wandb_table(results, experiments, out)
    print((out / ucr_bench.OUTPUT_NAMES[0]).read_text(), end="")
    print(f"wrote {', '.join(str(p) for p in paths)}")
    if failed:
        print(
            f"seqlab-ucr: {failed} multirun(s) failed; run again to retry their cells",
            file=sys.stderr,
        )
        raise SystemExit(1)


if __name__ == "__main__":
    main()
