"""Tracking curves of customer futures (task=generate): actual weekly purchases against
seqlab's sampled futures and BG/NBD, weekly and cumulative, as PNGs and W&B charts.

Weeks of the conditioning history are actual counts for all three (both models are given
them); the curves part where the generated weeks begin.
"""

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from lightning.pytorch.loggers import Logger, WandbLogger  # noqa: E402

from seqlab.files import savefig_atomic  # noqa: E402

WEEKLY_PLOT = "futures_weekly.png"
CUMULATIVE_PLOT = "futures_cumulative.png"


def tracking_series(
    counts: np.ndarray, seqlab: np.ndarray, bgnbd: np.ndarray, history_weeks: int
) -> dict[str, np.ndarray]:
    """Weekly totals over the entities: actual, and each model (history weeks actual)."""
    actual = counts.sum(axis=0).astype(np.float64)
    history = actual[:history_weeks]
    return {
        "actual": actual,
        "seqlab": np.concatenate([history, seqlab.sum(axis=0)]),
        "BG/NBD": np.concatenate([history, bgnbd.sum(axis=0)]),
    }


def futures_curves(
    counts: np.ndarray, seqlab: np.ndarray, bgnbd: np.ndarray, history_weeks: int, run_dir: Path
) -> list[Path]:
    """The weekly and the cumulative tracking plot in <run dir>/plots/."""
    series = tracking_series(counts, seqlab, bgnbd, history_weeks)
    paths = []
    for name, cumulative in ((WEEKLY_PLOT, False), (CUMULATIVE_PLOT, True)):
        figure, ax = plt.subplots(figsize=(8, 4))
        weeks = np.arange(1, len(series["actual"]) + 1)
        for label, values in series.items():
            style = "-" if label == "actual" else "--"
            ax.plot(weeks, np.cumsum(values) if cumulative else values, style, label=label)
        ax.axvline(history_weeks + 0.5, color="grey", lw=0.8)
        ax.set_xlabel("week")
        ax.set_ylabel("cumulative purchases" if cumulative else "purchases per week")
        ax.set_title(f"test customers ({len(counts)}): weeks 1-{history_weeks} condition")
        ax.legend()
        path = run_dir / "plots" / name
        savefig_atomic(figure, path, dpi=110, bbox_inches="tight")
        plt.close(figure)
        paths.append(path)
    return paths


def log_wandb_curves(
    loggers: list[Logger],
    counts: np.ndarray,
    seqlab: np.ndarray,
    bgnbd: np.ndarray,
    history_weeks: int,
    figures: list[Path],
) -> None:
    wandb_loggers = [lg for lg in loggers if isinstance(lg, WandbLogger)]
    if not wandb_loggers:
        return
    import wandb

    series = tracking_series(counts, seqlab, bgnbd, history_weeks)
    weeks = list(range(1, len(series["actual"]) + 1))
    charts: dict[str, object] = {
        f"futures/{title}": wandb.plot.line_series(
            xs=weeks,
            ys=[list(transform(values)) for values in series.values()],
            keys=list(series),
            title=f"{title} purchases, test customers",
            xname="week",
        )
        for title, transform in (("weekly", lambda v: v), ("cumulative", np.cumsum))
    }
    charts |= {f"futures/{path.stem}": wandb.Image(str(path)) for path in figures}
    for logger in wandb_loggers:
        logger.experiment.log(charts)
