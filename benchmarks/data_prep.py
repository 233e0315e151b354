"""Data preparation: the first and a repeated `setup()` of each data module, against an epoch.

    PYTHONPATH=src python benchmarks/data_prep.py

Each setup builds a fresh data module (so nothing is reused in memory); the first in a process
also pays the OS reading the files from disk, the repeats find them in the page cache. Time
series, memory and event data are prepared from their source every time (no on-disk cache);
text data keeps its token ids as Arrow files keyed by every setting that changes them
(data/text.py), and its first setup here starts from an empty cache folder, so first versus
repeated is uncached versus cached.
"""

import argparse
import json
import statistics
import tempfile
import time

from common import compose_train, pin_threads

# (label, overrides): the UCR sets shipped in the sktime wheel, smallest to largest file, and one
# data set of each other kind shipped in a wheel.
DATASETS = [
    ("ucr GunPoint (50 + 150 series x 150)", ["data.name=GunPoint"]),
    ("ucr ACSF1 (100 + 100 series x 1460)", ["data.name=ACSF1"]),
    ("ucr PLAID (537 + 537 series, 100-1344 steps)", ["data.name=PLAID"]),
    ("memory adding (2000 + 500 + 500 x 100, generated)", ["data=memory"]),
    ("text R8 (7,674 documents; tokeniser + token ids, Arrow cache)", ["data=r8"]),
    ("events CDNOW (69,659 purchases, 23,570 customers)", ["data=cdnow"]),
]


def setup_times(overrides: list[str], repeats: int) -> dict:
    from seqlab.data.registry import build_datamodule

    with tempfile.TemporaryDirectory() as cache:
        config = compose_train([*overrides, "paths.output_dir=/nonexistent"])
        if hasattr(config.data, "cache_dir"):  # text: an empty cache, so the first setup fills it
            config.data.cache_dir = cache
        times = []
        for _ in range(repeats + 1):
            data = build_datamodule(config.data)
            start = time.perf_counter()
            data.setup("fit")
            times.append(time.perf_counter() - start)
    return {"first_setup_s": times[0], "repeat_setup_s": statistics.median(times[1:])}


def measure(repeats: int = 5) -> list[dict]:
    return [{"data": label, **setup_times(overrides, repeats)} for label, overrides in DATASETS]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    pin_threads(args.threads)
    for row in measure(args.repeats):
        print(json.dumps(row))


if __name__ == "__main__":
    main()
