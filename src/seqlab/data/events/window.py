"""The cutoff that keeps labels out of the features.

History is every event before the cutoff; the label counts events after it. The cutoff is either
one timestamp for every entity (CDNOW: weeks 1-39 are history) or each entity's first k events
(YOOCHOOSE: the first k clicks of a session). Nothing computed here for the history reads an
event after the cutoff, which tests/test_events_data.py checks by changing those events.
"""

import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd

from seqlab.errors import SeqlabError

log = logging.getLogger(__name__)


@dataclass
class EventHistory:
    """Events before the cutoff, sorted by entity, time and file order, with `code` (the
    entity's index into `entities` and `labels`), `gap` (time since the entity's previous
    event), `since_first` (time since its first) and `age` (time from the event to the cutoff),
    in the configured time unit."""

    events: pd.DataFrame
    entities: np.ndarray  # entity ids, sorted
    labels: np.ndarray  # 0/1 per entity: enough events after the cutoff


def cut_history(events: pd.DataFrame, cutoff: dict, label: dict, time_unit: str) -> EventHistory:
    unit = _timedelta(1, time_unit, "time_unit")
    window = None if label["window"] is None else _timedelta(label["window"], None, "label.window")
    events = events.sort_values(["entity", "time", "row"], ignore_index=True)
    if cutoff["time"] is not None:
        cut_time = pd.Series(_timestamp(cutoff["time"]), index=events.index)
        before = events["time"] < cut_time
        after = ~before
    else:
        k = cutoff["events"]  # (at least 1: data/events/config.py)
        position = events.groupby("entity", sort=False).cumcount()
        long_enough = events.groupby("entity", sort=False)["row"].transform("size") >= k
        # Each entity's cutoff is its k-th event; shorter entities have no prediction point.
        kth_time = events["time"].where(position == k - 1)
        cut_time = kth_time.groupby(events["entity"], sort=False).transform("max")
        before = (position < k) & long_enough
        after = (position >= k) & long_enough
    if window is not None:
        after &= events["time"] < cut_time + window

    history = events[before.to_numpy()].copy()
    entities = np.sort(history["entity"].unique())
    dropped = events["entity"].nunique() - len(entities)
    if dropped:
        log.warning("%d entities have no history before the cutoff; they are left out", dropped)
    if len(entities) == 0:
        raise SeqlabError(
            "no entity has events before the cutoff; move data.cutoff into the log's time range"
        )
    history["code"] = np.searchsorted(entities, history["entity"].to_numpy())
    history["age"] = (cut_time[before] - history["time"]).to_numpy() / unit
    gaps = history.groupby("code", sort=False)["time"].diff()
    history["gap"] = (gaps / unit).fillna(0.0).to_numpy()
    first = history.groupby("code", sort=False)["time"].transform("min")
    history["since_first"] = ((history["time"] - first) / unit).to_numpy()

    future = events.loc[after.to_numpy(), "entity"].value_counts()
    counts = future.reindex(entities, fill_value=0).to_numpy()
    labels = (counts >= label["min_events"]).astype(np.int64)
    log.info(
        "%d entities, %d history events, %.1f%% positive",
        len(entities),
        len(history),
        100 * labels.mean(),
    )
    return EventHistory(history.reset_index(drop=True), entities, labels)


def _timedelta(value, unit: str | None, key: str) -> pd.Timedelta:
    try:
        delta = pd.Timedelta(value, unit=unit) if unit else pd.Timedelta(value)
    except (ValueError, TypeError):
        raise SeqlabError(
            f"data.{key}={unit or value!r} is not a time span; use e.g. s, h, D or 273D"
        ) from None
    if pd.isna(delta) or delta <= pd.Timedelta(0):
        raise SeqlabError(f"data.{key}={value!r} must be a positive time span")
    return delta


def _timestamp(value: str) -> pd.Timestamp:
    try:
        return pd.Timestamp(value)
    except (ValueError, TypeError):
        raise SeqlabError(
            f"data.cutoff.time={value!r} is not a date; write it like 1997-10-01"
        ) from None
