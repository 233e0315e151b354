"""The memory sweep's report: test accuracy against T per cell, and the ||dL/dh_t|| curves.

`seqlab-train experiment=memory_sweep` writes it at the end of the sweep (a Hydra callback); to
redo it by hand:  python -m seqlab.reports.memory_sweep outputs/train/multiruns/<time>
Into the sweep dir go memory_report.md (tables), memory_accuracy.png and memory_hidden_grads.png.
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

CELLS = ("rnn", "lstm", "gru")
REPORT = "memory_report.md"
ACCURACY_PLOT = "memory_accuracy.png"
GRADIENT_PLOT = "memory_hidden_grads.png"


class MemorySweepReport(Callback):
    """Hydra callback: write the report once every job of the sweep has finished."""

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        write_report(Path(config.hydra.sweep.dir))


def collect(sweep_dir: Path) -> list[dict[str, Any]]:
    """One row per finished job: cell, T, test accuracy, and its top layer's gradient curves."""
    rows = []
    for metrics_file in sorted(sweep_dir.glob("*/metrics.json")):
        job = metrics_file.parent
        config = OmegaConf.load(job / ".hydra" / "config.yaml")
        metrics = json.loads(metrics_file.read_text())
        row = {
            "job": job.name,
            "cell": config.model.cell,
            "length": int(config.data.length),
            "classes": int(config.data.num_classes),
            "test_acc": metrics["test/acc"],
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
    return sorted(rows, key=lambda r: (CELLS.index(r["cell"]), r["length"]))


def write_report(sweep_dir: Path) -> list[Path]:
    rows = collect(sweep_dir)
    lengths = sorted({r["length"] for r in rows})
    cells = [c for c in CELLS if any(r["cell"] == c for r in rows)]
    cell_of = {(r["cell"], r["length"]): r for r in rows}

    def table(title: str, value: Any) -> list[str]:
        header = ["cell", *(f"T={t}" for t in lengths)]
        body = [[cell, *(value(cell_of.get((cell, t))) for t in lengths)] for cell in cells]
        return [f"### {title}", "", *markdown_table(header, body), ""]

    chance = 1.0 / rows[0]["classes"]
    text = [f"# Memory sweep: {sweep_dir}", ""]
    text += table(
        f"Test accuracy (chance {chance:.3f})", lambda r: f"{r['test_acc']:.3f}" if r else ""
    )
    text += table(
        "||dL/dh_1|| / ||dL/dh_T|| at the first logged step (initialisation)",
        lambda r: _ratio(r, 0),
    )
    text += table("||dL/dh_1|| / ||dL/dh_T|| at the last logged step", lambda r: _ratio(r, -1))
    write_text_atomic(sweep_dir / REPORT, "\n".join(text))
    return [sweep_dir / REPORT, *_plots(sweep_dir, rows, cells, lengths, chance)]


def _ratio(row: dict | None, index: int) -> str:
    if not row or not row.get("ratios"):
        return ""
    value = row["ratios"][index]
    return "nan" if math.isnan(value) else f"{value:.2e}"


def _plots(
    sweep_dir: Path, rows: list[dict], cells: list[str], lengths: list[int], chance: float
) -> list[Path]:
    from seqlab.reports.gradient_plots import plt

    fig, ax = plt.subplots(figsize=(5, 3.5))
    for cell in cells:
        points = [(r["length"], r["test_acc"]) for r in rows if r["cell"] == cell]
        ax.plot(*zip(*points, strict=True), marker="o", label=cell)
    ax.axhline(chance, color="grey", ls=":", label="chance")
    ax.set_xscale("log")
    ax.set_xticks(lengths, [str(t) for t in lengths])
    ax.set_xlabel("sequence length T")
    ax.set_ylabel("test accuracy")
    ax.legend()
    fig.tight_layout()
    savefig_atomic(fig, sweep_dir / ACCURACY_PLOT, dpi=100)
    plt.close(fig)

    fig, axes = plt.subplots(2, len(cells), figsize=(4 * len(cells), 6), squeeze=False, sharey=True)
    colours = plt.cm.plasma([i / max(1, len(lengths)) for i in range(len(lengths))])
    for column, cell in enumerate(cells):
        for row_index, (index, when) in enumerate(((0, "at initialisation"), (-1, "at the end"))):
            ax = axes[row_index][column]
            for length, colour in zip(lengths, colours, strict=True):
                row = next((r for r in rows if r["cell"] == cell and r["length"] == length), None)
                if row and row.get("curves"):
                    curve = row["curves"][index]
                    ax.plot(range(1, len(curve) + 1), curve, color=colour, label=f"T={length}")
            ax.set_xscale("log")
            ax.set_yscale("log")
            ax.set_title(f"{cell}, {when}", fontsize=9)
            ax.set_xlabel("time step t")
    for ax in axes[:, 0]:
        ax.set_ylabel("||dL/dh_t|| (batch mean)")
    axes[0][-1].legend(fontsize=7)
    fig.tight_layout()
    savefig_atomic(fig, sweep_dir / GRADIENT_PLOT, dpi=100)
    plt.close(fig)
    return [sweep_dir / ACCURACY_PLOT, sweep_dir / GRADIENT_PLOT]
