"""Sampling throughput of task=generate: CDNOW futures per second, every customer, batched over
customers and samples (training/generate.py), against the floor of the same work: one fused
decoder-step kernel call per generated week on the same rows, with nothing else around it
(no feature update, head, softmax or draw). Two sampling paths: `sample_futures` (the draws,
as seqlab-generate writes them) and `rollout_futures` (the same draws with each week's
expected count and the probability of no purchase, as a training run scores them).

    PYTHONPATH=src python benchmarks/generate_throughput.py [--samples 100] [--repeats 3]
        [--ckpt <a cdnow_futures_lstm checkpoint>] [--threads 1]

Without --ckpt the decoder has the experiment's shape and random weights (the work per week
does not depend on the weights; how many purchases are drawn does not change the cost).
Results go to benchmarks/results/generate_throughput.json. Measured, never asserted.
"""

import argparse
import json
import os
import statistics
import time
from pathlib import Path

import common  # noqa: F401  (puts the checkout's src/ first)
import torch
from hydra import compose, initialize_config_dir

from seqlab import config_dir
from seqlab.config import TaskConfig, TrainConfig, validate
from seqlab.data.registry import build_datamodule
from seqlab.files import write_text_atomic
from seqlab.models.generator import SequenceGenerator
from seqlab.models.modules import load_module, sampling
from seqlab.models.tasks import TaskName
from seqlab.training.generate import ROWS, rollout_futures, sample_futures

RESULTS = Path(__file__).parent / "results" / "generate_throughput.json"


def experiment_config() -> dict:
    with initialize_config_dir(config_dir=config_dir(), version_base="1.3"):
        cfg = compose("train", overrides=["experiment=cdnow_futures_lstm", "paths.output_dir=."])
    return validate(cfg, TrainConfig)


def build(ckpt: str | None) -> tuple[SequenceGenerator, torch.Tensor, int]:
    config = experiment_config()
    datamodule = build_datamodule(config.data, "generate")
    datamodule.setup("fit")
    if ckpt:
        loaded, _ = load_module(ckpt, sampling)
        assert isinstance(loaded, SequenceGenerator)
        module = loaded
    else:
        module = SequenceGenerator.from_config(config, datamodule.meta, fitted=None)
    weekly = datamodule.weekly  # type: ignore[attr-defined]
    history = torch.from_numpy(weekly.counts[:, : weekly.history_weeks])
    return module.eval(), history, weekly.counts.shape[1] - weekly.history_weeks


def kernel_floor(module: SequenceGenerator, customers: int, samples: int, weeks: int) -> float:
    """Seconds of `weeks` bare decoder-step calls per chunk, chunked as sampling chunks."""
    rnn = module.encoder.rnn  # type: ignore[union-attr]
    layers, hidden = rnn.num_layers, rnn.hidden_size
    start = time.perf_counter()
    chunk = max(1, ROWS // samples)
    with torch.no_grad():
        for first in range(0, customers, chunk):
            rows = min(chunk, customers - first) * samples
            step = torch.zeros(rows, 1, rnn.input_size)
            state = torch.zeros(layers, rows, hidden)
            carried = (state, state.clone()) if isinstance(rnn, torch.nn.LSTM) else state
            for _ in range(weeks):
                _, carried = rnn(step, carried)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--samples", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--ckpt", default=None)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", type=Path, default=RESULTS, help="the JSON file to write")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    module, history, weeks = build(args.ckpt)
    customers = len(history)
    task = TaskConfig(name=TaskName.generate, samples=args.samples)
    drawing, rollout, floor = [], [], []
    for repeat in range(args.repeats):  # alternating, so all see the same machine load
        start = time.perf_counter()
        sample_futures(module, history, weeks, task, seed=repeat)
        drawing.append(time.perf_counter() - start)
        start = time.perf_counter()
        rollout_futures(module, history, weeks, task, seed=repeat)
        rollout.append(time.perf_counter() - start)
        floor.append(kernel_floor(module, customers, args.samples, weeks))
    futures = customers * args.samples
    result = {
        "customers": customers,
        "samples_per_customer": args.samples,
        "weeks": weeks,
        "rows_per_call": ROWS,
        "threads": args.threads,
        "machine": f"{os.cpu_count()} cpus, load {os.getloadavg()[0]:.1f}",
        "sampling_s": statistics.median(drawing),
        "sampling_s_range": [min(drawing), max(drawing)],
        "kernel_floor_s": statistics.median(floor),
        "futures_per_s": futures / statistics.median(drawing),
        "floor_futures_per_s": futures / statistics.median(floor),
        "ratio_sampling_to_floor": statistics.median(drawing) / statistics.median(floor),
        "rollout_s": statistics.median(rollout),
        "rollout_futures_per_s": futures / statistics.median(rollout),
        "ratio_rollout_to_floor": statistics.median(rollout) / statistics.median(floor),
        "trained_weights": bool(args.ckpt),
    }
    write_text_atomic(args.out, json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
