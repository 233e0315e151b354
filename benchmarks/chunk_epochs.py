"""Seconds per training epoch of experiment=ucr_lstm_fcn's model with the recurrent branch
over time at several model.chunk values, beside the dimension shuffle and the FCN alone: the
measurements behind model.chunk=auto (docs/timeseries.md).

    PYTHONPATH=src python benchmarks/chunk_epochs.py --root ../shared/datasets/ucr2015 \
        --datasets Gun_Point,OSULeaf --chunks 1,auto,25 --epochs 4

Each variant trains the composed experiment's model (same data module, batch size, Adam) for
--epochs epochs on the training split, batches cut from the tensors in memory as the
in-memory path does; one thread. The first epoch is left out of the median (allocator warm-up).
Timings only: no accuracy is claimed from these few epochs.
"""

import argparse
import json
import statistics
import time
from pathlib import Path

from common import RESULTS_DIR, compose_train, pin_threads

from seqlab.files import write_text_atomic


def epoch_seconds(overrides: list[str], epochs: int) -> tuple[list[float], int, int]:
    """Per-epoch seconds, the recurrent steps per series, and the trainable parameters."""
    import torch

    from seqlab.data.registry import build_datamodule
    from seqlab.models.classifier import SequenceClassifier
    from seqlab.models.config import resolve_chunk

    config = compose_train(
        ["experiment=ucr_lstm_fcn", "seed=1", "paths.output_dir=/nonexistent", *overrides]
    )
    datamodule = build_datamodule(config.data)
    datamodule.setup("fit")
    torch.manual_seed(1)
    module = SequenceClassifier.from_config(config, datamodule.meta, datamodule.fitted_state())
    module.train()
    optimizer = torch.optim.Adam(module.parameters(), lr=config.optim.lr)
    assert datamodule.splits is not None
    train = datamodule.splits["train"]
    size = config.data.batch_size
    times = []
    for _ in range(epochs):
        start = time.perf_counter()
        order = torch.randperm(len(train))
        for first in range(0, len(train), size):
            batch = train[order[first : first + size].tolist()]
            loss = module.loss_fn(module(batch), batch.labels)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        times.append(time.perf_counter() - start)
    model = config.model
    length = datamodule.meta.max_length
    if getattr(model, "kind", "") != "recurrent_fcn":
        steps = 0
    elif model.recurrent_input == "shuffle":
        steps = datamodule.meta.num_features
    else:
        steps = -(-length // resolve_chunk(model.chunk, length))
    parameters = sum(p.numel() for p in module.parameters() if p.requires_grad)
    return times, steps, parameters


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", required=True)
    parser.add_argument("--datasets", default="Gun_Point,OSULeaf")
    parser.add_argument("--chunks", default="1,auto,25")
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--out", type=Path, default=RESULTS_DIR / "chunk_epochs.json")
    args = parser.parse_args()
    pin_threads(1)
    variants = {"fcn": ["model=fcn"], "shuffle": []}
    for chunk in args.chunks.split(","):
        variants[f"time, chunk={chunk}"] = [
            "model.recurrent_input=time",
            f"model.chunk={chunk}",
        ]
    rows = []
    for name in args.datasets.split(","):
        for variant, overrides in variants.items():
            data = [f"data.root={Path(args.root).resolve()}", f"data.name={name}"]
            times, steps, parameters = epoch_seconds([*data, *overrides], args.epochs)
            row = {
                "dataset": name,
                "variant": variant,
                "recurrent_steps": steps,
                "parameters": parameters,
                "median_epoch_s": round(statistics.median(times[1:] or times), 3),
                "epoch_s": [round(t, 3) for t in times],
            }
            rows.append(row)
            print(json.dumps(row), flush=True)
    write_text_atomic(args.out, json.dumps(rows, indent=1) + "\n")


if __name__ == "__main__":
    main()
