"""Time and peak memory to build the event sequences (default: embedded CDNOW, data=cdnow).

    PYTHONPATH=src python benchmarks/bench_events.py [--data cdnow] [--repeats 3]

Each repeat builds a fresh data module: read and check the log, cut at the cutoff, split,
fit vocabularies/scaler and pad the sequences (what `setup()` does), then the baselines'
aggregate table. Peak memory is tracemalloc's peak of Python and numpy allocations during one
build, and the process's peak RSS (which includes the interpreter, torch and pandas).
"""

import argparse
import resource
import statistics
import time
import tracemalloc

from hydra import compose, initialize_config_dir

from seqlab import config_dir
from seqlab.config import TrainConfig, validate
from seqlab.data.events.config import EventsDataConfig
from seqlab.data.events.datamodule import EventDataModule
from seqlab.data.registry import build_datamodule


def build(data_cfg: EventsDataConfig) -> tuple[float, float, EventDataModule]:
    start = time.perf_counter()
    module = build_datamodule(data_cfg)
    module.setup("fit")
    sequences = time.perf_counter() - start
    module.aggregate_splits()
    return sequences, time.perf_counter() - start, module


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", default="cdnow")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    with initialize_config_dir(config_dir=config_dir(), version_base="1.3"):
        cfg = compose("train", overrides=[f"data={args.data}", "paths.output_dir=unused"])
    data_cfg = validate(cfg, TrainConfig).data

    build(data_cfg)  # warm-up: imports, file cache
    timings = [build(data_cfg)[:2] for _ in range(args.repeats)]
    tracemalloc.start()
    _, _, module = build(data_cfg)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    events = len(module.history.events)
    entities = sum(len(d) for d in module.splits.values())
    print(f"data={args.data}: {entities} entities, {events} history events")
    print(f"sequences (setup): median {statistics.median(t for t, _ in timings):.2f} s")
    print(f"sequences + aggregates: median {statistics.median(t for _, t in timings):.2f} s")
    print(f"tracemalloc peak during one build: {peak / 2**20:.0f} MiB")
    print(f"process peak RSS: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")


if __name__ == "__main__":
    main()
