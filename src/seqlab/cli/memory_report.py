"""python -m seqlab.cli.memory_report <sweep dir>: redo a memory sweep's report by hand (the sweep
writes it itself when it ends)."""

import sys
from pathlib import Path

from seqlab.cli import user_errors
from seqlab.errors import SeqlabError
from seqlab.reports.memory_sweep import write_report


def main() -> None:
    if len(sys.argv) != 2:
        print("usage: python -m seqlab.cli.memory_report <sweep dir>", file=sys.stderr)
        sys.exit(2)
    sweep_dir = Path(sys.argv[1])
    with user_errors():
        if not sweep_dir.is_dir():
            raise SeqlabError(f"{sweep_dir}: not a folder; pass the sweep dir of a memory sweep")
        for path in write_report(sweep_dir):
            print(path)


if __name__ == "__main__":
    main()
