"""The memory sweep's report: per task, test accuracy (first symbol) or test MSE (adding) against
T per cell, with the ||dL/dh_1|| / ||dL/dh_T|| ratios beside it, and the ||dL/dh_t|| curves.

`seqlab-train experiment=memory_sweep` writes it at the end of the sweep (a Hydra callback); to
redo it by hand:  python -m seqlab.cli.memory_report outputs/train/multiruns/<time>
Into the sweep dir go memory_report.md (tables), memory_accuracy.png and memory_hidden_grads.png.

The adding problem is learnt as classification of the sum into bins (data/memory); its MSE is
that of the expected sum under the predicted class probabilities (`adding_mse`), computed here
from each job's tested checkpoint on its regenerated test split and kept in the job's
adding_mse.json.
"""

import json
import math
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig, OmegaConf

from seqlab.errors import SeqlabError
from seqlab.files import savefig_atomic, write_text_atomic
from seqlab.reports.table import markdown_table

CELLS = ("rnn", "irnn", "lstm", "gru")
TASKS = ("adding", "first_symbol")
REPORT = "memory_report.md"
ACCURACY_PLOT = "memory_accuracy.png"
GRADIENT_PLOT = "memory_hidden_grads.png"
MSE_FILE = "adding_mse.json"
ALWAYS_ONE_MSE = 1.0 / 6.0  # the variance of the sum: the MSE of always answering its mean 1.0


class MemorySweepReport(Callback):
    """Hydra callback: write the report once every job of the sweep has finished."""

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        write_report(Path(config.hydra.sweep.dir))


def cell_label(model: Any) -> str:
    """rnn, lstm, gru, or irnn for the plain RNN with an identity start (model=irnn)."""
    if model.cell == "rnn" and model.get("init", "default") == "identity":
        return "irnn"
    return str(model.cell)


def collect(sweep_dir: Path) -> list[dict[str, Any]]:
    """One row per finished job: cell, task, T, test accuracy (and MSE for adding), and its top
    layer's gradient curves."""
    rows = []
    for metrics_file in sorted(sweep_dir.glob("*/metrics.json")):
        job = metrics_file.parent
        config = OmegaConf.load(job / ".hydra" / "config.yaml")
        metrics = json.loads(metrics_file.read_text())
        task = str(config.data.get("task", "first_symbol"))
        row = {
            "job": job.name,
            "cell": cell_label(config.model),
            "task": task,
            "length": int(config.data.length),
            "classes": int(config.data.num_classes),
            "test_acc": metrics["test/acc"],
            "test_mse": job_mse(job) if task == "adding" else None,
            "steps": [],
        }
        gradients = job / "gradients" / "gradients.json"
        if gradients.is_file():
            history = json.loads(gradients.read_text())
            top = f"l{int(config.model.num_layers) - 1}"
            row["steps"] = history["steps"]
            row["curves"] = [h[top] for h in history["hidden"]]
            row["ratios"] = [r[top] for r in history["ratios"]]
        rows.append(row)
    if not rows:
        raise SeqlabError(
            f"{sweep_dir}: no finished jobs (no */metrics.json); pass the sweep dir of "
            "seqlab-train experiment=memory_sweep"
        )
    return sorted(rows, key=lambda r: (TASKS.index(r["task"]), CELLS.index(r["cell"]), r["length"]))


def job_mse(job: Path) -> float | None:
    """The adding job's test MSE (cached in adding_mse.json); None without its checkpoint."""
    cached = job / MSE_FILE
    if cached.is_file():
        return float(json.loads(cached.read_text())["test/mse"])
    best = sorted(p for p in (job / "checkpoints").glob("*.ckpt") if p.name != "last.ckpt")
    if not best:
        return None
    value = checkpoint_mse(best[-1])
    write_text_atomic(cached, json.dumps({"test/mse": value, "checkpoint": best[-1].name}) + "\n")
    return value


def checkpoint_mse(path: Path) -> float:
    """Test MSE of an adding checkpoint: its test split regenerated from the stored data config
    (the generator is seeded), the class probabilities turned into an expected sum."""
    import torch

    from seqlab.data.batch import Batch
    from seqlab.data.memory.config import MemoryDataConfig
    from seqlab.data.memory.datamodule import MemoryDataModule, adding_mse, adding_test_sums
    from seqlab.models.modules import labelling, load_module
    from seqlab.schema import to_dataclass

    module, _ = load_module(str(path), labelling)
    config = to_dataclass(MemoryDataConfig, dict(module.hparams["data"]))
    splits, _ = MemoryDataModule(config).build_splits()
    test = splits["test"]
    with torch.no_grad():
        logits = module.eval()(Batch(test.inputs, test.categories, test.lengths, test.labels))
    return adding_mse(logits.softmax(dim=-1).numpy(), adding_test_sums(config))


def write_report(sweep_dir: Path) -> list[Path]:
    rows = collect(sweep_dir)
    tasks = [t for t in TASKS if any(r["task"] == t for r in rows)]
    text = [f"# Memory sweep: {sweep_dir}", ""]
    for task in tasks:
        text += _task_tables(task, [r for r in rows if r["task"] == task])
    write_text_atomic(sweep_dir / REPORT, "\n".join(text))
    return [sweep_dir / REPORT, *_plots(sweep_dir, rows, tasks)]


def _task_tables(task: str, rows: list[dict]) -> list[str]:
    lengths = sorted({r["length"] for r in rows})
    cells = [c for c in CELLS if any(r["cell"] == c for r in rows)]
    cell_of = {(r["cell"], r["length"]): r for r in rows}

    def table(title: str, value: Any) -> list[str]:
        header = ["cell", *(f"T={t}" for t in lengths)]
        body = [[cell, *(value(cell_of.get((cell, t))) for t in lengths)] for cell in cells]
        return [f"### {title}", "", *markdown_table(header, body), ""]

    chance = 1.0 / rows[0]["classes"]
    text = [f"## {task}", ""]
    if task == "adding":
        text += table(
            f"Test MSE of the expected sum (always answering 1.0: {ALWAYS_ONE_MSE:.3f})",
            lambda r: "" if not r or r["test_mse"] is None else f"{r['test_mse']:.4f}",
        )
    text += table(
        f"Test accuracy (chance {chance:.3f})", lambda r: f"{r['test_acc']:.3f}" if r else ""
    )
    text += table(
        "||dL/dh_1|| / ||dL/dh_T|| at the first logged step (initialisation)",
        lambda r: _ratio(r, 0),
    )
    text += table("||dL/dh_1|| / ||dL/dh_T|| at the last logged step", lambda r: _ratio(r, -1))
    return text


def _ratio(row: dict | None, index: int) -> str:
    if not row or not row.get("ratios"):
        return ""
    value = row["ratios"][index]
    return "nan" if math.isnan(value) else f"{value:.2e}"


def _plots(sweep_dir: Path, rows: list[dict], tasks: list[str]) -> list[Path]:
    from seqlab.reports.gradient_plots import plt

    lengths = sorted({r["length"] for r in rows})
    cells = [c for c in CELLS if any(r["cell"] == c for r in rows)]
    fig, axes = plt.subplots(len(tasks), 2, figsize=(9, 3.3 * len(tasks)), squeeze=False)
    for (ax, ratio_ax), task in zip(axes, tasks, strict=True):
        task_rows = [r for r in rows if r["task"] == task]
        mse = task == "adding"
        for cell in cells:
            points = [
                (r["length"], r["test_mse"] if mse else r["test_acc"])
                for r in task_rows
                if r["cell"] == cell and (not mse or r["test_mse"] is not None)
            ]
            colour = f"C{CELLS.index(cell)}"  # one colour per cell in every panel
            if points:
                ax.plot(*zip(*points, strict=True), marker="o", label=cell, color=colour)
            ratios = [
                (r["length"], r["ratios"][-1])
                for r in task_rows
                if r["cell"] == cell and r.get("ratios")
            ]
            ratios = [(t, v) for t, v in ratios if v > 0 and math.isfinite(v)]
            if ratios:
                ratio_ax.plot(*zip(*ratios, strict=True), marker="o", label=cell, color=colour)
        if mse:
            ax.axhline(ALWAYS_ONE_MSE, color="grey", ls=":", label="always 1.0")
            ax.axhline(ALWAYS_ONE_MSE / 10, color="grey", ls="--", label="solved (1/10)")
            ax.set_yscale("log")
            ax.set_ylabel("test MSE")
        else:
            ax.axhline(1.0 / task_rows[0]["classes"], color="grey", ls=":", label="chance")
            ax.set_ylabel("test accuracy")
        ratio_ax.set_yscale("log")
        ratio_ax.set_ylabel("||dL/dh_1|| / ||dL/dh_T|| (end; 0 not drawn)")
        for a in (ax, ratio_ax):
            a.set_xscale("log")
            a.minorticks_off()
            a.set_xticks(lengths, [str(t) for t in lengths])
            a.set_xlabel("sequence length T")
            a.set_title(task, fontsize=9)
        ax.legend(fontsize=7)
        ratio_ax.legend(fontsize=7)
    fig.tight_layout()
    savefig_atomic(fig, sweep_dir / ACCURACY_PLOT, dpi=100)
    plt.close(fig)

    panels = [(task, index, when) for task in tasks for index, when in ((0, "start"), (-1, "end"))]
    fig, axes = plt.subplots(
        len(panels), len(cells), figsize=(3.6 * len(cells), 2.8 * len(panels)), squeeze=False
    )
    colours = plt.cm.plasma([i / max(1, len(lengths)) for i in range(len(lengths))])
    for row_axes, (task, index, when) in zip(axes, panels, strict=True):
        for ax, cell in zip(row_axes, cells, strict=True):
            for length, colour in zip(lengths, colours, strict=True):
                row = next(
                    (
                        r
                        for r in rows
                        if (r["task"], r["cell"], r["length"]) == (task, cell, length)
                    ),
                    None,
                )
                if row and row.get("curves"):
                    curve = row["curves"][index]
                    ax.plot(range(1, len(curve) + 1), curve, color=colour, label=f"T={length}")
            ax.set_xscale("log")
            ax.set_yscale("log")
            ax.set_title(f"{task}: {cell}, {when} of training", fontsize=8)
            ax.set_xlabel("time step t")
    for ax in axes[:, 0]:
        ax.set_ylabel("||dL/dh_t|| (batch mean)")
    axes[0][-1].legend(fontsize=7)
    fig.tight_layout()
    savefig_atomic(fig, sweep_dir / GRADIENT_PLOT, dpi=100)
    plt.close(fig)
    return [sweep_dir / ACCURACY_PLOT, sweep_dir / GRADIENT_PLOT]
