"""Weekly purchase sequences for task=generate (customer futures).

Each entity becomes a grid of weekly counts from the log's first day: weeks before the cutoff
(data.cutoff.time; CDNOW weeks 1-39) condition the decoder, the weeks of data.label.window
after it (CDNOW weeks 40-78) are what it generates. A week's count is the number of distinct
days with an event, the transactions BG/NBD counts (several rows on one day are one purchase).

The decoder's input at week t is built from the counts of weeks before t only
(`week_inputs`), and the same features are updated one week at a time while sampling
(`FutureState`), so teacher forcing and generation read identical inputs. The target of week t
is its count (classes 0..MAX_COUNT); weeks up to and including the entity's first purchase are
masked (IGNORE_LABEL): the first purchase defines the customer and is never predicted.
"""

from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from seqlab.data.batch import IGNORE_LABEL, SequenceDataset
from seqlab.data.meta import DataMeta
from seqlab.errors import SeqlabError

PERIOD = pd.Timedelta(days=7)
MAX_COUNT = 7  # distinct purchase days in a week
INPUT_NAMES = ("previous", "log_cumulative", "started", "since_last", "position")


@dataclass
class WeeklyCounts:
    """counts[entity, week] over the whole grid, the number of conditioning weeks, and each
    entity's first week with an event."""

    counts: np.ndarray  # (entities, weeks) int64
    history_weeks: int
    first_week: np.ndarray  # (entities,) int64
    start: pd.Timestamp  # the first day of week 1
    # BG/NBD's summary of the conditioning weeks, in weeks, from distinct purchase days:
    # repeat purchases, first to last purchase, first purchase to the cutoff
    frequency: np.ndarray
    recency: np.ndarray
    age: np.ndarray


def weekly_counts(
    events: pd.DataFrame, entities: np.ndarray, cutoff: str, window: str | None
) -> WeeklyCounts:
    """The weekly grid of `entities` (sorted ids) from a canonical event table (entity, time)."""
    start = events["time"].min().normalize()
    cut = pd.Timestamp(cutoff)
    history = (cut - start) / PERIOD
    if history != int(history) or history < 1:
        raise SeqlabError(
            f"data.cutoff.time={cutoff} is not a whole number of weeks after the log's first "
            f"day {start.date()}; task=generate works in weeks, move the cutoff"
        )
    end = events["time"].max().normalize() + pd.Timedelta(days=1)
    if window is not None:
        end = min(end, cut + pd.Timedelta(window))
    future = int(np.ceil((end - cut) / PERIOD))
    weeks = int(history) + future
    days = events[["entity", "time"]].assign(time=events["time"].dt.normalize()).drop_duplicates()
    days = days[(days["time"] < cut + future * PERIOD) & days["entity"].isin(entities)]
    row = np.searchsorted(entities, days["entity"].to_numpy())
    week = ((days["time"] - start) // PERIOD).to_numpy().astype(np.int64)
    counts = np.zeros((len(entities), weeks), dtype=np.int64)
    np.add.at(counts, (row, week), 1)
    started = counts[:, : int(history)] > 0
    if not started.any(axis=1).all():
        raise SeqlabError(
            "an entity has no event before data.cutoff.time; it cannot be conditioned"
        )
    frequency, recency, age = calibration_rfm(days, entities, cut)
    return WeeklyCounts(
        counts, int(history), started.argmax(axis=1), start, frequency, recency, age
    )


def calibration_rfm(
    days: pd.DataFrame, entities: np.ndarray, cut: pd.Timestamp
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """BG/NBD's frequency (purchase days after the first), recency (first to last purchase
    day) and T (first purchase day to the cutoff), in weeks, of each entity's days before
    `cut`; `days` holds one row per entity and purchase day."""
    before = days[days["time"] < cut]
    grouped = before.groupby("entity")["time"]
    first, last = grouped.min().reindex(entities), grouped.max().reindex(entities)
    frequency = grouped.size().reindex(entities).to_numpy() - 1
    return (
        frequency.astype(np.float64),
        ((last - first) / PERIOD).to_numpy(dtype=np.float64),
        ((cut - first) / PERIOD).to_numpy(dtype=np.float64),
    )


def week_inputs(counts: torch.Tensor) -> torch.Tensor:
    """(entities, weeks) counts -> (entities, weeks, features): week t reads weeks < t only."""
    entities, weeks = counts.shape
    previous = torch.cat([counts.new_zeros(entities, 1), counts[:, :-1]], dim=1).float()
    cumulative = previous.cumsum(dim=1)
    position = torch.arange(weeks, device=counts.device).expand(entities, weeks)
    bought = torch.where(previous > 0, position - 1, torch.full_like(position, -1))
    last = bought.cummax(dim=1).values
    since_last = torch.where(last >= 0, (position - last).float(), torch.zeros_like(previous))
    return torch.stack(
        [
            previous,
            cumulative.log1p(),
            (cumulative > 0).float(),
            since_last / 52.0,
            position.float() / 52.0,
        ],
        dim=-1,
    )


class FutureState:
    """The same features as `week_inputs`, kept up to date one sampled week at a time."""

    def __init__(self, counts: torch.Tensor):
        """`counts`: (rows, weeks so far) known counts; the next input is for week weeks."""
        weeks = counts.shape[1]
        self.week = weeks
        self.previous = counts[:, -1].float()
        self.cumulative = counts.sum(dim=1).float()
        position = torch.arange(weeks, device=counts.device)
        last = torch.where(counts > 0, position, torch.full_like(counts, -1)).max(dim=1).values
        self.last = last

    def inputs(self) -> torch.Tensor:
        """(rows, 1, features) input of the next week."""
        since_last = torch.where(
            self.last >= 0, (self.week - self.last).float(), torch.zeros_like(self.previous)
        )
        features = [
            self.previous,
            self.cumulative.log1p(),
            (self.cumulative > 0).float(),
            since_last / 52.0,
            torch.full_like(self.previous, self.week / 52.0),
        ]
        return torch.stack(features, dim=-1)[:, None, :]

    def advance(self, count: torch.Tensor) -> None:
        """Record the count sampled for week `week` (the one `inputs` was for)."""
        self.previous = count.float()
        self.cumulative = self.cumulative + self.previous
        self.last = torch.where(count > 0, torch.full_like(self.last, self.week), self.last)
        self.week += 1


def week_targets(weekly: WeeklyCounts) -> torch.Tensor:
    """(entities, weeks) class targets, IGNORE_LABEL up to each first purchase week."""
    counts = torch.from_numpy(np.minimum(weekly.counts, MAX_COUNT))
    weeks = torch.arange(counts.shape[1])[None, :]
    first = torch.from_numpy(weekly.first_week)[:, None]
    return torch.where(weeks > first, counts, torch.full_like(counts, IGNORE_LABEL))


def future_splits(
    weekly: WeeklyCounts, entity_splits: dict[str, np.ndarray], all_histories: bool = False
) -> tuple[dict[str, SequenceDataset], DataMeta]:
    """Teacher-forcing datasets per split: every week's inputs and targets.

    `all_histories`: the training set also holds the conditioning weeks of the validation and
    test entities (cut at the cutoff: their later weeks are neither read nor scored), and their
    own splits score only the generated weeks, which no model has seen.
    """
    counts = torch.from_numpy(weekly.counts)
    inputs, targets = week_inputs(counts), week_targets(weekly)
    weeks, history = counts.shape[1], weekly.history_weeks
    full = torch.full((len(counts),), weeks, dtype=torch.long)
    splits = {
        split: SequenceDataset(inputs[codes], None, full[codes], targets[codes])
        for split, codes in entity_splits.items()
    }
    if all_histories:
        held_out = np.concatenate([entity_splits["val"], entity_splits["test"]])
        cut_inputs = inputs[held_out].clone()
        cut_inputs[:, history:] = 0
        cut_targets = targets[held_out].clone()
        cut_targets[:, history:] = IGNORE_LABEL
        train = splits["train"]
        splits["train"] = SequenceDataset(
            torch.cat([train.inputs, cut_inputs]),
            None,
            torch.cat([train.lengths, torch.full((len(held_out),), history)]),
            torch.cat([train.labels, cut_targets]),
        )
        for split in ("val", "test"):
            scored = splits[split].labels.clone()
            scored[:, :history] = IGNORE_LABEL
            splits[split].labels = scored
    meta = DataMeta(
        num_features=len(INPUT_NAMES),
        num_classes=MAX_COUNT + 1,
        class_names=tuple(str(k) for k in range(MAX_COUNT + 1)),
        max_length=weeks,
    )
    return splits, meta
