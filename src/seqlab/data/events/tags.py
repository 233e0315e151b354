"""Per-step labels of an event log (task=tag): every event is a prediction point.

An event's label comes from the entity's later events only (strictly later in time, so a
same-day twin row of a CDNOW basket is not "buying again"): positive when at least
`min_events` of them fall within `horizon` after it. When the horizon reaches past the end of
observation the answer is unknown, so the step is censored: masked (IGNORE_LABEL), never
labelled negative. Censoring goes by the horizon alone, also for steps already known to be
positive, so the kept steps near the end are not a sample skewed towards positives.

Features per step read only that event and the entity's earlier ones: the time since the
previous event (gap) and since the first (since_first) for the sequence models, and running
RFM-style aggregates for the classical baselines (`step_features`).
"""

import logging

import numpy as np
import pandas as pd
import torch

from seqlab.data.batch import IGNORE_LABEL
from seqlab.data.events.window import EventHistory, _timedelta
from seqlab.data.padding import pad_flat
from seqlab.errors import SeqlabError

log = logging.getLogger(__name__)

TAG_CLASS_NAMES = ("no", "yes")  # fewer / at least step_label.min_events later events


def tag_history(
    events: pd.DataFrame, step_label: dict, time_unit: str, require_labels: bool = True
) -> EventHistory:
    """Every event, sorted by entity, time and file order, with `code`, `gap`, `since_first`
    and `tag` (0, 1 or IGNORE_LABEL); `labels` per entity is whether any step is positive
    (what the entity split is stratified by). A new input to predict may be all censored
    (require_labels=False): it is then unlabelled."""
    unit = _timedelta(1, time_unit, "time_unit")
    events = events.sort_values(["entity", "time", "row"], ignore_index=True)
    entities = np.sort(events["entity"].unique())
    if len(entities) == 0:
        raise SeqlabError("the event log is empty; point data.path at a log with events")
    events["code"] = np.searchsorted(entities, events["entity"].to_numpy())
    by_entity = events.groupby("code", sort=False)["time"]
    events["gap"] = (by_entity.diff() / unit).fillna(0.0).to_numpy()
    events["since_first"] = ((events["time"] - by_entity.transform("min")) / unit).to_numpy()
    later = later_event_counts(events, step_label["horizon"])
    events["tag"] = (later >= step_label["min_events"]).astype(np.int64)
    censored = censored_steps(events, step_label)
    events.loc[censored, "tag"] = IGNORE_LABEL
    labelled = events["tag"] != IGNORE_LABEL
    if require_labels and not labelled.any():
        raise SeqlabError(
            "every step is censored (its data.step_label.horizon reaches past the end of "
            "observation); shorten the horizon or set data.step_label.observed_until later"
        )
    any_positive = (events["tag"] == 1).groupby(events["code"], sort=True).any().to_numpy()
    log.info(
        "%d entities, %d events: %d labelled steps (%.1f%% positive), %d censored",
        len(entities),
        len(events),
        int(labelled.sum()),
        100 * float((events.loc[labelled, "tag"] == 1).mean()) if labelled.any() else 0.0,
        int(censored.sum()),
    )
    return EventHistory(events, entities, any_positive.astype(np.int64))


def later_event_counts(events: pd.DataFrame, horizon: str | None) -> np.ndarray:
    """Per event (sorted by code and time), how many of its entity's events are strictly later
    and at most `horizon` after it (null: any time later). Two as-of joins by entity, no loop."""
    position = pd.Series(np.arange(len(events)), index=events.index)
    # the last event of the same entity at the same time: ties are not "later"
    last_tie = position.groupby([events["code"], events["time"]], sort=False).transform("max")
    if horizon is None:
        last_within = position.groupby(events["code"], sort=False).transform("max")
        return (last_within - last_tie).to_numpy()
    span = _timedelta(horizon, None, "step_label.horizon")
    ends = pd.DataFrame(
        {"code": events["code"], "time": events["time"] + span, "step": position}
    ).sort_values("time", kind="stable")
    table = pd.DataFrame({"code": events["code"], "time": events["time"], "last": position})
    joined = pd.merge_asof(
        ends, table.sort_values("time", kind="stable"), on="time", by="code", direction="backward"
    )
    last_within = joined.set_index("step")["last"].sort_index().to_numpy()
    return last_within - last_tie.to_numpy()


def censored_steps(events: pd.DataFrame, step_label: dict) -> pd.Series:
    """Events whose horizon passes the end of observation (none without a horizon)."""
    if step_label["horizon"] is None:
        return pd.Series(False, index=events.index)
    span = _timedelta(step_label["horizon"], None, "step_label.horizon")
    end = step_label["observed_until"]
    try:
        observed = events["time"].max() if end is None else pd.Timestamp(end)
    except (ValueError, TypeError):
        raise SeqlabError(
            f"data.step_label.observed_until={end!r} is not a date; write it like 1998-06-30"
        ) from None
    return events["time"] + span > observed


def step_features(events: pd.DataFrame, numeric: list[str]) -> pd.DataFrame:
    """RFM-style aggregates of each event and the entity's earlier ones, one row per event:
    events so far, tenure, the last and mean gaps, and the running sum, mean and max of every
    numeric column next to its current value."""
    grouped = events.groupby("code", sort=False)
    count = grouped.cumcount() + 1
    features = {
        "events": count,
        "since_first": events["since_first"],
        "gap": events["gap"],
        "mean_gap": events["since_first"] / (count - 1).clip(lower=1),
    }
    for column in numeric:
        values = grouped[column]
        total = values.cumsum()
        features |= {
            f"{column}_sum": total,
            f"{column}_mean": total / count,
            f"{column}_max": values.cummax(),
            f"{column}_last": events[column],
        }
    return pd.DataFrame(features).astype(np.float64)


def pad_tags(tags: np.ndarray, lengths: torch.Tensor, max_length: int) -> torch.Tensor:
    """(entities, max_length) step labels, IGNORE_LABEL on padding."""
    padded, _ = pad_flat(tags[:, None], lengths.numpy(), max_length, dtype=np.int64)
    labels = padded[:, :, 0]
    labels[torch.arange(max_length)[None, :] >= lengths[:, None]] = IGNORE_LABEL
    return labels
