"""A new event log for a trained model, in the training log's format: cut at the configured
cutoff, each entity's most recent history encoded with the vocabularies and scaler fitted on
the training entities (stored in the checkpoint). Values never seen in training take the
unknown id (their count is logged). One prediction per entity, in order of first appearance."""

from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import torch

from seqlab.data.batch import SequenceDataset
from seqlab.data.events.log import read_event_log
from seqlab.data.events.window import cut_history
from seqlab.data.input_config import ReaderConfig
from seqlab.data.meta import DataMeta
from seqlab.data.padding import pad_flat
from seqlab.data.prediction import PredictionData, no_labels
from seqlab.data.scaler import scaler_from_state
from seqlab.errors import SeqlabError

if TYPE_CHECKING:
    from seqlab.data.events.datamodule import EventDataModule


def read_input(
    module: "EventDataModule",
    fitted: dict[str, Any],
    meta: DataMeta,
    source: str,
    reader: ReaderConfig,
) -> PredictionData:
    from seqlab.data.events.datamodule import encode_categories

    config = module.config
    path = Path(source).expanduser()
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
    history = cut_history(events, asdict(config.cutoff), asdict(config.label), config.time_unit)
    if reader.labels == "auto":
        labelled = _reaches_past_cutoff(events, asdict(config.cutoff))
    else:
        labelled = reader.labels == "true"
    recent = history.events[
        history.events.groupby("code").cumcount(ascending=False) < config.max_length
    ]
    ids, _ = encode_categories(recent, fitted["vocabularies"])
    values = module._step_values(recent)
    if fitted.get("scaler") is not None:
        values = scaler_from_state(fitted["scaler"]).transform(values)
    values = values.astype(np.float32)
    counts = np.bincount(recent["code"].to_numpy(), minlength=len(history.entities))
    longest = int(counts.max())
    inputs, lengths = pad_flat(values, counts, longest)
    categories, _ = pad_flat(ids, counts, longest, dtype=np.int64)
    first_row = history.events.groupby("code", sort=True)["row"].min().to_numpy()
    order = torch.from_numpy(np.argsort(first_row, kind="stable"))
    labels = torch.from_numpy(history.labels) if labelled else no_labels(len(counts))
    dataset = SequenceDataset(inputs[order], categories[order], lengths[order], labels[order])
    entity_ids = [str(entity) for entity in history.entities[order.numpy()]]
    return PredictionData(dataset, entity_ids, labelled)


def _reaches_past_cutoff(events: pd.DataFrame, cutoff: dict) -> bool:
    """Whether the log holds what the label is counted from: events after the cutoff."""
    if cutoff["time"] is not None:
        return bool((events["time"] >= pd.Timestamp(cutoff["time"])).any())
    return bool(events.groupby("entity").size().max() > cutoff["events"])
