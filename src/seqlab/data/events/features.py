"""Aggregate (RFM-style) features of each entity's history, for the classical baselines.

They summarise exactly the history the sequence models read (every event before the cutoff;
the sequences keep its most recent `max_length` events): recency, frequency, tenure, the
spacing of events, sum/mean/max/last of every numeric column (monetary value), and per
categorical column the number of distinct values, the share of repeats and the counts of the
training part's most frequent values.
"""

import numpy as np
import pandas as pd

from seqlab.data.events.config import EventsDataConfig


def top_values(train_history: pd.DataFrame, categorical: list[str], k: int) -> dict[str, list]:
    """Each column's k most frequent values in the training part (ties by value, so a seed or a
    row order never changes them)."""
    chosen = {}
    for column in categorical:
        counts = train_history[column].value_counts()
        ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
        chosen[column] = [value for value, _ in ranked[:k]]
    return chosen


def aggregate_features(
    history: pd.DataFrame,
    numeric: list[str],
    categorical: list[str],
    top: dict[str, list],
) -> pd.DataFrame:
    """One row per entity `code` in `history`, sorted by code; columns named for the table."""
    grouped = history.groupby("code", sort=True)
    events = grouped.size()
    recency, tenure = grouped["age"].min(), grouped["age"].max()
    features = {
        "events": events,
        "recency": recency,
        "tenure": tenure,
        "mean_gap": (tenure - recency) / (events - 1).clip(lower=1),
        "last_gap": grouped["gap"].last(),
    }
    for column in numeric:
        values = grouped[column]
        features |= {
            f"{column}_sum": values.sum(),
            f"{column}_mean": values.mean(),
            f"{column}_max": values.max(),
            f"{column}_last": values.last(),
        }
    for column in categorical:
        distinct = grouped[column].nunique()
        features |= {f"{column}_distinct": distinct, f"{column}_repeat": 1 - distinct / events}
        for rank, value in enumerate(top[column]):
            hits = (history[column] == value).groupby(history["code"], sort=True).sum()
            features[f"{column}_top{rank + 1}"] = hits
    table = pd.DataFrame(features).astype(np.float64)
    table.index.name = "code"
    return table


def step_values(config: EventsDataConfig, events: pd.DataFrame) -> np.ndarray:
    """Numeric columns then time features, one row per event, before scaling."""
    columns = [events[name].to_numpy() for name in config.columns.numeric]
    columns += [events[name].to_numpy() for name in config.time_features]
    if not columns:
        return np.zeros((len(events), 0))
    values = np.stack(columns, axis=1).astype(np.float64)
    if config.numeric_transform == "log1p":
        values = signed_log1p(values)
    return values


def signed_log1p(values: np.ndarray) -> np.ndarray:
    """sign(x) * log(1 + |x|): counts and amounts are heavily skewed, and a linear model or a
    network sees them better on a log scale (negative values, such as refunds, keep their sign)."""
    return np.sign(values) * np.log1p(np.abs(values))
