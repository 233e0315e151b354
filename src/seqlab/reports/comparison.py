"""The comparison's outputs: per-seed rows -> mean and spread per model -> table.md, table.csv,
runs.csv and a bar chart, all in the comparison's run dir."""

from pathlib import Path

import pandas as pd

from seqlab.files import savefig_atomic, write_text_atomic
from seqlab.metrics.scores import METRIC_NAMES
from seqlab.reports.table import markdown_table, mean_std_cell

# Column and axis labels; a metric without one is shown by its name.
LABELS = {"acc": "accuracy", "precision": "precision", "recall": "recall", "f1": "F1"}
LABELS["auroc"] = "ROC-AUC"


def summarise(runs: pd.DataFrame) -> pd.DataFrame:
    """One row per model (in first-run order): n seeds and the mean and sample std of each
    test metric."""
    order = list(dict.fromkeys(runs["model"]))
    grouped = runs.groupby(["model", "family"], sort=False)
    table = grouped[[f"test/{m}" for m in METRIC_NAMES]].agg(["mean", "std"])
    table.columns = [f"{metric.removeprefix('test/')}_{stat}" for metric, stat in table.columns]
    table.insert(0, "seeds", grouped.size())
    table = table.reset_index().set_index("model").loc[order].reset_index()
    return table


def write_tables(runs: pd.DataFrame, table: pd.DataFrame, run_dir: Path) -> None:
    write_text_atomic(run_dir / "runs.csv", runs.to_csv(index=False))
    write_text_atomic(run_dir / "table.csv", table.to_csv(index=False, float_format="%.6f"))
    header = ["model", "family", "seeds", *(LABELS.get(m, m) for m in METRIC_NAMES)]
    lines = markdown_table(
        header,
        [
            [row.model, row.family, str(row.seeds)]
            + [
                mean_std_cell(getattr(row, f"{m}_mean"), getattr(row, f"{m}_std"))
                for m in METRIC_NAMES
            ]
            for row in table.itertuples(index=False)
        ],
    )
    note = "\n\nTest split; mean ± sample standard deviation over seeds (split and model seed).\n"
    write_text_atomic(run_dir / "table.md", "\n".join(lines) + note)


def plot_chart(table: pd.DataFrame, path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(10, 4.5))
    width = 0.8 / len(table)
    for index, row in enumerate(table.itertuples(index=False)):
        positions = [m + (index - (len(table) - 1) / 2) * width for m in range(len(METRIC_NAMES))]
        axis.bar(
            positions,
            [getattr(row, f"{m}_mean") for m in METRIC_NAMES],
            width,
            yerr=[getattr(row, f"{m}_std") for m in METRIC_NAMES],
            capsize=2,
            label=row.model,
            hatch="//" if row.family == "baseline" else None,
        )
    axis.set_xticks(range(len(METRIC_NAMES)), [LABELS.get(m, m) for m in METRIC_NAMES])
    axis.set_ylim(0, 1)
    axis.set_ylabel("test score (mean ± std over seeds)")
    axis.set_title(title)
    axis.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    figure.tight_layout()
    savefig_atomic(figure, path, dpi=120)
    plt.close(figure)
