"""The upper bound on training throughput: the bare recurrent kernel on a workload's batches.

    PYTHONPATH=src python benchmarks/throughput.py [--workload parity]

For every batch of one training epoch (same shapes, same order as the data module gives them), a
forward and backward pass of the bare torch nn.LSTM/GRU/RNN with the workload's sizes: no head,
no loss, no optimizer, no packing. Samples per second of that is what this machine can do at
best; the bench runner divides seqlab's and the plain loop's throughput by it.
"""

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

from common import CPU, Target, pin_threads
from overhead import first_batches, synchronize, workload_config
from workloads import WORKLOADS, Workload


def kernel_epoch(workload: Workload, repeats: int = 7, target: Target = CPU) -> dict:
    """`target`: the device (cuDNN's kernels on a GPU) and precision (bf16-mixed: autocast)."""
    import torch

    from seqlab.data.registry import build_datamodule
    from seqlab.models.inputs import InputLayer
    from seqlab.models.recurrent import CELLS

    with tempfile.TemporaryDirectory() as folder:
        config = workload_config(workload, Path(folder), epochs=1, target=target)
        data = build_datamodule(config.data)
        data.setup("fit")
    model = config.model
    input_dim = InputLayer(data.meta, model.embedding_dim, 0.0, False).output_dim
    rnn = CELLS[model.cell](
        input_dim,
        model.hidden_size,
        num_layers=model.num_layers,
        bidirectional=model.bidirectional,
        batch_first=True,
    ).to(target.device)
    limit = config.trainer.get("limit_train_batches")
    shapes = [tuple(b.inputs.shape[:2]) for b in first_batches(data.train_dataloader(), limit)]
    batches = [torch.randn(*shape, input_dim, device=target.device) for shape in shapes]
    samples = sum(shape[0] for shape in shapes)
    autocast = torch.autocast(
        torch.device(target.device).type,
        dtype=torch.bfloat16,
        enabled=target.precision == "bf16-mixed",
    )
    times, cpu_times = [], []
    for _ in range(repeats):
        synchronize()
        start, cpu_start = time.perf_counter(), time.process_time()
        for inputs in batches:
            rnn.zero_grad(set_to_none=True)
            with autocast:
                outputs, _ = rnn(inputs)
            outputs.float().sum().backward()
        synchronize()
        times.append(time.perf_counter() - start)
        cpu_times.append(time.process_time() - cpu_start)
    epoch_s = statistics.median(times[1:])  # the first pass warms up
    return {
        "samples": samples,
        "kernel_epoch_s": epoch_s,
        # CPU time (every thread of the process): steadier than wall time on a loaded machine
        "kernel_epoch_cpu_s": statistics.median(cpu_times[1:]),
        "kernel_samples_per_s": samples / epoch_s,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workload", action="append", help="default: all")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    pin_threads(args.threads)
    for workload in WORKLOADS:
        if not args.workload or workload.name in args.workload:
            print(json.dumps({"workload": workload.name, **kernel_epoch(workload)}))


if __name__ == "__main__":
    main()
