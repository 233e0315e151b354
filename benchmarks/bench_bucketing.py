"""Reuters R8: training speed with length-bucketed batches vs padding, and data setup with cache.

    PYTHONPATH=src python benchmarks/bench_bucketing.py [--repeats 3] [--batches 8]

Training: the r8_bilstm model (forward, backward, optimiser step) on whole documents (no
truncation) for `--batches` batches per mode, three modes:
  bucketed   batches of similar lengths (data.bucketing=true), padded to their own longest;
  random     random batches padded to their own longest (data.bucketing=false);
  longest    random batches padded to the longest document of the data set.
Reported: real (non-padding) tokens per second and the share of padding tokens; medians over
`--repeats`. Setup: first data setup (tokeniser training and tokenisation into an empty cache)
vs a second one with the same settings (read from the cache), medians over `--repeats` fresh
cache folders. Results also go to benchmarks/results/bench_bucketing.json.
"""

import argparse
import json
import statistics
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from hydra import compose, initialize_config_dir

from seqlab import config_dir
from seqlab.config import TrainConfig, validate
from seqlab.data.batch import Batch
from seqlab.data.bucketing import BucketBatchSampler
from seqlab.data.registry import build_datamodule
from seqlab.data.text.datamodule import TextDataModule
from seqlab.models.classifier import SequenceClassifier

RESULTS = Path(__file__).parent / "results" / "bench_bucketing.json"


def experiment_config() -> dict:
    with initialize_config_dir(config_dir=config_dir(), version_base="1.3"):
        cfg = compose(
            "train",
            overrides=["experiment=r8_bilstm", "data.max_length=null", "paths.output_dir=/x"],
        )
    return validate(cfg, TrainConfig)


def setup_seconds(data_cfg: Any, cache_dir: str) -> tuple[float, bool]:
    start = time.perf_counter()
    data = build_datamodule(replace(data_cfg, cache_dir=cache_dir))
    data.setup("fit")
    return time.perf_counter() - start, bool(data.cache_hit)


def batches_for(mode: str, data: TextDataModule, count: int, seed: int) -> list[list[int]]:
    train = data.splits["train"]
    if mode == "bucketed":
        sampler = BucketBatchSampler(
            train.lengths, data.batch_size, shuffle=True, seed=seed, bucket_batches=50
        )
        return list(sampler)[:count]
    order = torch.randperm(len(train), generator=torch.Generator().manual_seed(seed))
    return [b.tolist() for b in order.split(data.batch_size)][:count]


def train_speed(
    mode: str, data: TextDataModule, config: TrainConfig, count: int, seed: int
) -> dict:
    torch.manual_seed(seed)
    module = SequenceClassifier.from_config(config, data.meta, fitted=None).train()
    optimizer = torch.optim.AdamW(module.parameters(), lr=config.optim.lr)
    batches = [data.splits["train"].__getitems__(b) for b in batches_for(mode, data, count, seed)]
    if mode == "longest":
        longest = data.meta.max_length
        batches = [
            Batch(
                F.pad(b.inputs, (0, 0, 0, longest - b.inputs.shape[1])),
                F.pad(b.categories, (0, 0, 0, longest - b.categories.shape[1])),
                b.lengths,
                b.labels,
            )
            for b in batches
        ]
    real = sum(int(b.lengths.sum()) for b in batches)
    padded = sum(b.categories.shape[0] * b.categories.shape[1] for b in batches)
    start = time.perf_counter()
    for batch in batches:
        optimizer.zero_grad()
        module.loss_fn(module(batch), batch.labels).backward()
        optimizer.step()
    seconds = time.perf_counter() - start
    return {"tokens_per_s": real / seconds, "padding_share": 1 - real / padded}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--batches", type=int, default=8)
    args = parser.parse_args()
    config = experiment_config()
    data_cfg = config.data

    with tempfile.TemporaryDirectory() as folder:
        setup_seconds(data_cfg, f"{folder}/warmup")  # imports and file cache, not measured
        first, second = [], []
        for repeat in range(args.repeats):
            cold, hit_cold = setup_seconds(data_cfg, f"{folder}/{repeat}")
            warm, hit_warm = setup_seconds(data_cfg, f"{folder}/{repeat}")
            assert not hit_cold and hit_warm
            first.append(cold)
            second.append(warm)
        data = build_datamodule(replace(data_cfg, cache_dir=f"{folder}/0"))
        data.setup("fit")

    speeds: dict[str, list[dict]] = {"bucketed": [], "random": [], "longest": []}
    for repeat in range(args.repeats):
        for mode, runs in speeds.items():
            runs.append(train_speed(mode, data, config, args.batches, seed=repeat))
    summary = {
        mode: {
            "tokens_per_s": statistics.median(r["tokens_per_s"] for r in runs),
            "padding_share": statistics.median(r["padding_share"] for r in runs),
        }
        for mode, runs in speeds.items()
    }
    bucketed = summary["bucketed"]["tokens_per_s"]
    for mode in summary:
        summary[mode]["bucketed_speedup"] = bucketed / summary[mode]["tokens_per_s"]
    setup = {
        "first_s": statistics.median(first),
        "second_s": statistics.median(second),
        "ratio": statistics.median(first) / statistics.median(second),
    }
    result = {
        "command": " ".join(["python", *sys.argv]),
        "repeats": args.repeats,
        "batches": args.batches,
        "batch_size": data.batch_size,
        "torch_threads": torch.get_num_threads(),
        "train": summary,
        "setup": setup,
    }
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print(f"R8 training, {args.batches} batches of {data.batch_size}, median of {args.repeats}:")
    print(f"{'mode':10} {'real tokens/s':>14} {'padding':>8} {'bucketed is':>12}")
    for mode, row in summary.items():
        print(
            f"{mode:10} {row['tokens_per_s']:14.0f} {row['padding_share']:8.1%} "
            f"{row['bucketed_speedup']:11.2f}x"
        )
    print(
        f"R8 data setup: first {setup['first_s']:.2f} s, second (cache) {setup['second_s']:.2f} s,"
        f" {setup['ratio']:.1f}x"
    )


if __name__ == "__main__":
    main()
