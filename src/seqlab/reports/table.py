"""What every report shares: a Markdown table and "mean ± std" over runs (sample std, ddof=1;
one run has no spread)."""

import math
from collections.abc import Sequence

import numpy as np


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return lines


def mean_std(values: Sequence[float]) -> tuple[float, float]:
    """Mean and sample standard deviation; NaN spread for a single value."""
    array = np.asarray(values, dtype=float)
    spread = float(np.std(array, ddof=1)) if len(array) > 1 else math.nan
    return float(np.mean(array)), spread


def mean_std_cell(mean: float, std: float, digits: int = 4) -> str:
    if math.isnan(mean):
        return "n/a"
    return f"{mean:.{digits}f}" if math.isnan(std) else f"{mean:.{digits}f} ± {std:.{digits}f}"
