"""Cost of the gradient diagnostics: training time with callbacks.gradients on (its defaults),
on without the end-of-training PNGs, and off, on experiment=gunpoint_lstm; plus the cost of one
logged step against a plain one.

    PYTHONPATH=src python benchmarks/gradients_overhead.py [--repeats 3] [--epochs 150]

Runs alternate on/off so both see the same machine load; the medians are printed as a table and
written to benchmarks/results/gradients_overhead.json. Measured, never asserted.
"""

import argparse
import json
import os
import statistics
import tempfile
import time
from pathlib import Path

import torch
from hydra import compose, initialize_config_dir

from seqlab import config_dir
from seqlab.config import TrainConfig, validate

RESULTS = Path(__file__).parent / "results" / "gradients_overhead.json"


CONDITIONS = {  # name -> (callbacks.gradients.enabled, callbacks.gradients.plots)
    "off": (False, True),
    "on": (True, True),
    "on, plots=false": (True, False),
}


def config(enabled: bool, epochs: int, output_dir: str, plots: bool = True) -> dict:
    overrides = [
        "experiment=gunpoint_lstm",
        f"trainer.max_epochs={epochs}",
        f"callbacks.gradients.enabled={str(enabled).lower()}",
        f"callbacks.gradients.plots={str(plots).lower()}",
        "callbacks.progress_bar=false",
        "print_config=false",
        "print_parameters=false",
        f"paths.output_dir={output_dir}",
    ]
    with initialize_config_dir(config_dir=config_dir(), version_base="1.3"):
        return validate(compose("train", overrides=overrides), TrainConfig)


def time_training(condition: str, epochs: int) -> float:
    from seqlab.training.pipeline import train

    enabled, plots = CONDITIONS[condition]
    with tempfile.TemporaryDirectory() as folder:
        cfg = config(enabled, epochs, folder, plots)
        start = time.perf_counter()
        train(cfg)
        return time.perf_counter() - start


def time_steps(repeats: int = 15) -> dict[str, float]:
    """Median ms of one forward+backward on a GunPoint batch: fused, and the logged step."""
    from seqlab.data.registry import build_datamodule
    from seqlab.models.classifier import SequenceClassifier

    with tempfile.TemporaryDirectory() as folder:
        cfg = config(True, 1, folder)
    data = build_datamodule(cfg.data)
    data.setup("fit")
    model = SequenceClassifier.from_config(cfg, data.meta, fitted=None)
    batch = next(iter(data.train_dataloader()))
    result = {}
    for name, record in (("fused_ms", False), ("logged_ms", True)) * 2:
        times = []
        for _ in range(repeats):
            model.zero_grad()
            start = time.perf_counter()
            if record:
                model.encoder.request_hidden_states()
            model.loss_fn(model(batch), batch.labels).backward()
            model.encoder.take_hidden_states()
            times.append(time.perf_counter() - start)
        result[name] = 1000 * statistics.median(times)  # the second pass of each is kept
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=150)
    args = parser.parse_args()
    os.environ.setdefault("WANDB_MODE", "offline")
    runs: dict[str, list[float]] = {name: [] for name in CONDITIONS}
    for _ in range(args.repeats):
        for name in CONDITIONS:
            runs[name].append(time_training(name, args.epochs))
    medians = {name: statistics.median(values) for name, values in runs.items()}
    steps = time_steps()
    result = {
        "experiment": "gunpoint_lstm",
        "epochs": args.epochs,
        "repeats": args.repeats,
        "torch_threads": torch.get_num_threads(),
        "runs_s": runs,
        "median_s": medians,
        "overhead_pct": {
            name: 100 * (medians[name] / medians["off"] - 1) for name in CONDITIONS if name != "off"
        },
        **steps,
    }
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print(f"| callbacks.gradients | median train() s over {args.repeats} | runs |")
    print("|---|---|---|")
    for name in CONDITIONS:
        print(f"| {name} | {medians[name]:.1f} | {', '.join(f'{v:.1f}' for v in runs[name])} |")
    for name, value in result["overhead_pct"].items():
        print(f"overhead ({name}): {value:+.1f}%")
    print(
        f"one forward+backward on a GunPoint batch: fused {steps['fused_ms']:.1f} ms, logged step "
        f"{steps['logged_ms']:.1f} ms"
    )


if __name__ == "__main__":
    main()
