"""PNG plots of the gradient diagnostics (matplotlib, Agg: no display needed).

Shared by the callback (one run) and the memory-sweep report (many runs side by side).
"""

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from seqlab.files import savefig_atomic  # noqa: E402

HIDDEN_PLOT = "hidden_grad_norms.png"
PARAMETER_PLOT = "param_grad_norms.png"


def plot_hidden_curves(ax: Any, steps: list[int], curves: list[list[float]], title: str) -> None:
    """||dL/dh_t|| against t, one line per logged training step, darker = later."""
    colours = plt.cm.viridis([i / max(1, len(curves) - 1) for i in range(len(curves))])
    for step, curve, colour in zip(steps, curves, colours, strict=True):
        ax.plot(range(1, len(curve) + 1), curve, color=colour, lw=1, label=f"step {step}")
    ax.set_yscale("log")
    ax.set_xlabel("time step t")
    ax.set_ylabel("||dL/dh_t||")
    ax.set_title(title, fontsize=9)


def save_plots(history: dict[str, Any], folder: Path) -> list[Path]:
    steps = history["steps"]
    written = []
    names = list(history["hidden"][-1]) if history["hidden"] else []
    if names:
        fig, axes = plt.subplots(1, len(names), figsize=(4.5 * len(names), 3.5), squeeze=False)
        for ax, name in zip(axes[0], names, strict=True):
            plot_hidden_curves(ax, steps, [h[name] for h in history["hidden"]], name)
        axes[0][-1].legend(fontsize=6, loc="best", ncol=2)
        written.append(_save(fig, folder / HIDDEN_PLOT))
    fig, ax = plt.subplots(figsize=(6, 3.5))
    for group in history["norms"][-1]:
        ax.plot(steps, [n.get(group, float("nan")) for n in history["norms"]], label=group, lw=1)
    ax.set_yscale("log")
    ax.set_xlabel("optimizer step")
    ax.set_ylabel("gradient norm")
    ax.legend(fontsize=6, ncol=2)
    written.append(_save(fig, folder / PARAMETER_PLOT))
    return written


def _save(fig: Any, path: Path) -> Path:
    fig.tight_layout()
    savefig_atomic(fig, path, dpi=100)
    plt.close(fig)
    return path
