"""A new event log for a trained model, in the training log's format, encoded with the
vocabularies and scaler fitted on the training entities (stored in the checkpoint). Values never
seen in training take the unknown id (their count is logged). Entities come in order of first
appearance, each one's most recent `max_length` events in time order.

task=classify cuts the log at the configured cutoff: one prediction per entity. task=tag labels
every event as training does (data/events/tags.py): one prediction per kept event, with its
label where its horizon lies within the log (censored events have none)."""

import logging
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from seqlab.data.batch import IGNORE_LABEL, SequenceDataset
from seqlab.data.events.categories import encode_categories
from seqlab.data.events.config import EventsDataConfig
from seqlab.data.events.features import step_values
from seqlab.data.events.log import read_event_log
from seqlab.data.events.tags import pad_tags, tag_history
from seqlab.data.events.window import cut_history
from seqlab.data.input_config import ReaderConfig
from seqlab.data.meta import DataMeta
from seqlab.data.padding import pad_flat
from seqlab.data.prediction import PredictionData, no_labels, refuse_unreadable_text
from seqlab.data.scaler import standardize
from seqlab.errors import SeqlabError
from seqlab.models.tasks import TaskName

log = logging.getLogger(__name__)


def read_input(
    config: EventsDataConfig,
    task: str,
    fitted: dict[str, Any],
    meta: DataMeta,
    source: str,
    reader: ReaderConfig,
) -> PredictionData:
    path = Path(source).expanduser()
    if path.is_file():  # (a missing file: read_event_log's own line)
        refuse_unreadable_text(path, reader.format or str(config.format))
    events = read_event_log(
        path,
        reader.format or str(config.format),
        asdict(config.columns),
        config.time_format,
        config.duplicates,
        asdict(config.time_range),
    )
    if events.empty:
        raise SeqlabError(f"{path}: empty input; no events to predict from")
    if task == TaskName.tag:
        step_label = asdict(config.step_label)
        history = tag_history(events, step_label, config.time_unit, require_labels=False)
    else:
        history = cut_history(events, asdict(config.cutoff), asdict(config.label), config.time_unit)
    first_row = history.events.groupby("code", sort=True)["row"].min().to_numpy()
    order = np.argsort(first_row, kind="stable")
    rank = np.empty_like(order)
    rank[order] = np.arange(len(order))
    recent = history.events[
        history.events.groupby("code").cumcount(ascending=False) < config.max_length
    ]
    # entities in order of first appearance, each one's events still in time order
    recent = recent.iloc[np.argsort(rank[recent["code"].to_numpy()], kind="stable")]
    ids, _ = encode_categories(recent, fitted["vocabularies"])
    values = step_values(config, recent)
    if fitted.get("scaler") is not None:
        values = standardize(values, fitted["scaler"])
    counts = np.bincount(rank[recent["code"].to_numpy()], minlength=len(order))
    longest = int(counts.max())
    inputs, lengths = pad_flat(values.astype(np.float32), counts, longest)
    categories, _ = pad_flat(ids, counts, longest, dtype=np.int64)
    entity_ids = [str(entity) for entity in history.entities[order]]
    if task == TaskName.tag:
        labels, labelled, steps = _steps(history.events, recent, lengths, reader, path)
        if len(recent) < len(history.events):
            _warn_left_out(history.events, recent, config.max_length, labelled, path)
        dataset = SequenceDataset(inputs, categories, lengths, labels)
        return PredictionData(dataset, entity_ids, labelled, steps=steps)
    if reader.labels == "auto":
        labelled = _reaches_past_cutoff(events, asdict(config.cutoff))
    else:
        labelled = reader.labels == "true"
    labels = torch.from_numpy(history.labels[order]) if labelled else no_labels(len(order))
    dataset = SequenceDataset(inputs, categories, lengths, labels)
    return PredictionData(dataset, entity_ids, labelled)


def _steps(
    events: pd.DataFrame,
    recent: pd.DataFrame,
    lengths: torch.Tensor,
    reader: ReaderConfig,
    path: Path,
) -> tuple[torch.Tensor, bool, pd.DataFrame]:
    """task=tag: the kept events' labels, padded per entity (IGNORE_LABEL where censored, and
    everywhere without labels), whether any is labelled, and each event's step (its index among
    all of its entity's events) and time."""

    tags = recent["tag"].to_numpy()
    known = bool((tags != IGNORE_LABEL).any())
    labelled = known if reader.labels == "auto" else reader.labels == "true"
    if labelled and not known:
        raise SeqlabError(
            f"{path}: reader.labels=true, but every event is censored (its "
            "data.step_label.horizon passes the end of the log); set reader.labels=false"
        )
    if not labelled:
        tags = np.full_like(tags, IGNORE_LABEL)
    step = events.groupby("code", sort=False).cumcount()
    steps = pd.DataFrame(
        {"step": step.loc[recent.index].to_numpy(), "time": recent["time"].to_numpy()}
    )
    return pad_tags(tags, lengths, int(lengths.max())), labelled, steps


def _warn_left_out(
    events: pd.DataFrame, recent: pd.DataFrame, max_length: int, labelled: bool, path: Path
) -> None:
    """As in training, a sequence is an entity's most recent max_length events: the older ones
    get no prediction (and are not scored), the kept ones are predicted from those alone."""
    left_out = events.drop(index=recent.index)
    scored = f" ({int((left_out['tag'] != IGNORE_LABEL).sum())} labelled)" if labelled else ""
    log.warning(
        "%s: %d of %d events%s are older than each entity's most recent data.max_length=%d "
        "events and get no prediction, as in training",
        path,
        len(left_out),
        len(events),
        scored,
        max_length,
    )


def _reaches_past_cutoff(events: pd.DataFrame, cutoff: dict) -> bool:
    """Whether the log holds what the label is counted from: events after the cutoff."""
    if cutoff["time"] is not None:
        return bool((events["time"] >= pd.Timestamp(cutoff["time"])).any())
    return bool(events.groupby("entity").size().max() > cutoff["events"])
