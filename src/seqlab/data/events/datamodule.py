"""Customer event logs (`data=events`, `data=cdnow`, `data=yoochoose`).

read + check the log -> cut at the cutoff (labels from after, history from before) -> split
entities (seeded, stratified; no entity in two splits) -> fit the categorical vocabularies and
the numeric scaler on the training entities' history -> one sequence per entity of its most
recent `max_length` events: categorical ids (0 padding, 1 rare/unseen, 2.. known values) and
scaled numeric values plus the time features (gap since the previous event, age at the cutoff).

The classical baselines read `aggregate_splits()`: the same entities, splits and history.

With task=tag (data/events/tags.py) there is no cutoff: each entity's sequence is its events
(the most recent `max_length`), labelled step by step, and the baselines read one row of
running aggregates per labelled step of those same sequences (`step_splits()`).
"""

import logging
from dataclasses import asdict
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from sklearn.preprocessing import StandardScaler

from seqlab.data.base import SequenceDataModule
from seqlab.data.batch import IGNORE_LABEL, SequenceDataset
from seqlab.data.events.categories import encode_categories, fit_vocabularies
from seqlab.data.events.config import EventsDataConfig
from seqlab.data.events.features import aggregate_features, step_values, top_values
from seqlab.data.events.futures import WeeklyCounts, future_splits, weekly_counts
from seqlab.data.events.log import cdnow_path, read_event_log
from seqlab.data.events.tags import TAG_CLASS_NAMES, pad_tags, step_features, tag_history
from seqlab.data.events.window import EventHistory, cut_history
from seqlab.data.meta import DataMeta
from seqlab.data.padding import pad_flat
from seqlab.data.scaler import scaler_state
from seqlab.data.splits import stratified_split
from seqlab.errors import SeqlabError
from seqlab.models.tasks import TaskName

log = logging.getLogger(__name__)

CLASS_NAMES = ("inactive", "active")  # fewer / at least label.min_events events after cutoff


class EventDataModule(SequenceDataModule):
    tasks = (TaskName.classify, TaskName.tag, TaskName.generate)

    def __init__(self, config: EventsDataConfig):
        super().__init__(batch_size=config.batch_size, num_workers=config.num_workers)
        self.config = config
        self._fitted: dict[str, Any] = {}
        # task=generate (task.train_histories): train on every entity's conditioning weeks
        self.train_histories = False

    # -- shared by the sequence models and the baselines ---------------------------------------

    @cached_property
    def history(self) -> EventHistory:
        events = self._read_log()
        if self.task == TaskName.tag:
            return tag_history(events, asdict(self.config.step_label), self.config.time_unit)
        return cut_history(
            events, asdict(self.config.cutoff), asdict(self.config.label), self.config.time_unit
        )

    def _read_log(self) -> pd.DataFrame:
        path = cdnow_path() if self.config.path is None else Path(self.config.path).expanduser()
        return read_event_log(
            path,
            self.config.format,
            asdict(self.config.columns),
            self.config.time_format,
            self.config.duplicates,
            asdict(self.config.time_range),
        )

    @cached_property
    def weekly(self) -> WeeklyCounts:
        """task=generate: every entity's weekly counts (data/events/futures.py)."""
        if self.config.cutoff.time is None:
            raise SeqlabError(
                "task=generate conditions on the weeks before data.cutoff.time; set it (and "
                "data.cutoff.events=null)"
            )
        return weekly_counts(
            self._read_log(),
            self.history.entities,
            self.config.cutoff.time,
            self.config.label.window,
        )

    @property
    def class_names(self) -> tuple[str, ...]:
        return TAG_CLASS_NAMES if self.task == TaskName.tag else CLASS_NAMES

    @cached_property
    def entity_splits(self) -> dict[str, np.ndarray]:
        """Entity codes per split, sorted; stratified by label and fixed by split_seed."""
        fractions = (self.config.val_fraction, self.config.test_fraction)
        if min(fractions) <= 0 or sum(fractions) >= 1:
            raise SeqlabError(
                f"data.val_fraction={self.config.val_fraction} and data.test_fraction="
                f"{self.config.test_fraction} must be positive and sum to less than 1"
            )
        labels = self.history.labels
        if len(np.unique(labels)) < 2:
            raise SeqlabError(
                f"every entity has label {self.class_names[labels[0]]!r}; change data.cutoff "
                "or data.label (task=tag: data.step_label) so both outcomes occur"
            )
        rest, test = stratified_split(
            labels, self.config.test_fraction, self.config.split_seed, "data.test_fraction"
        )
        fit, val = stratified_split(
            labels[rest],
            self.config.val_fraction / (1 - self.config.test_fraction),
            self.config.split_seed,
            "data.val_fraction",
        )
        return {"train": rest[fit], "val": rest[val], "test": test}

    def aggregate_splits(self) -> dict[str, tuple[pd.DataFrame, np.ndarray]]:
        """Per split: the aggregate feature table (one row per entity) and the labels."""
        events = self.history.events
        train = events[events["code"].isin(self.entity_splits["train"])]
        categorical = list(self.config.columns.categorical)
        top = top_values(train, categorical, self.config.top_categories)
        table = aggregate_features(events, list(self.config.columns.numeric), categorical, top)
        return {
            split: (table.loc[codes], self.history.labels[codes])
            for split, codes in self.entity_splits.items()
        }

    def step_splits(self) -> dict[str, tuple[pd.DataFrame, np.ndarray]]:
        """task=tag, per split: running aggregates (data/events/tags.py) of every labelled
        step the sequence models are scored on, and its label."""
        recent = self._recent()
        table = step_features(self.history.events, list(self.config.columns.numeric))
        table = table.loc[recent.index]
        tags = recent["tag"].to_numpy()
        labelled = tags != IGNORE_LABEL
        codes = recent["code"].to_numpy()
        parts = {}
        for split, members in self.entity_splits.items():
            rows = labelled & np.isin(codes, members)
            parts[split] = (table[rows], tags[rows])
        return parts

    # -- sequences ------------------------------------------------------------------------------

    def _recent(self) -> pd.DataFrame:
        """Each entity's most recent max_length events (events are sorted by time)."""
        events = self.history.events
        return events[events.groupby("code").cumcount(ascending=False) < self.config.max_length]

    def build_splits(self) -> tuple[dict[str, SequenceDataset], DataMeta]:
        if self.task == TaskName.generate:
            self._fitted = {"vocabularies": {}, "scaler": None}
            return future_splits(self.weekly, self.entity_splits, self.train_histories)
        recent = self._recent()
        if self.task == TaskName.tag:
            _warn_unscored_steps(self.history.events, recent, self.config.max_length)
        split_of = np.empty(len(self.history.entities), dtype=object)
        for split, codes in self.entity_splits.items():
            split_of[codes] = split
        in_split = split_of[recent["code"].to_numpy()]
        train_rows = in_split == "train"

        categorical = list(self.config.columns.categorical)
        vocabularies = fit_vocabularies(recent, categorical, train_rows, self.config.min_count)
        ids, sizes = encode_categories(recent, vocabularies)
        values = step_values(self.config, recent)
        self._fitted = {"vocabularies": vocabularies, "scaler": None}
        if values.shape[1]:
            scaler = StandardScaler().fit(values[train_rows])
            self._fitted["scaler"] = scaler_state(scaler)
            values = scaler.transform(values)
        values = values.astype(np.float32)

        lengths_all = np.bincount(recent["code"].to_numpy(), minlength=len(split_of))
        max_length = int(lengths_all.max())
        splits = {}
        for split, codes in self.entity_splits.items():
            rows = in_split == split  # the split's entities' events, back to back
            inputs, lengths = pad_flat(values[rows], lengths_all[codes], max_length)
            categories, _ = pad_flat(ids[rows], lengths_all[codes], max_length, dtype=np.int64)
            if self.task == TaskName.tag:
                labels = pad_tags(recent["tag"].to_numpy()[rows], lengths, max_length)
            else:
                labels = torch.from_numpy(self.history.labels[codes])
            splits[split] = SequenceDataset(inputs, categories, lengths, labels)
        meta = DataMeta(
            num_features=values.shape[1],
            num_classes=len(self.class_names),
            class_names=self.class_names,
            max_length=max_length,
            category_sizes=sizes,
            category_names=tuple(categorical),
        )
        return splits, meta

    def fitted_state(self) -> dict[str, Any]:
        return self._fitted


def _warn_unscored_steps(events: pd.DataFrame, recent: pd.DataFrame, max_length: int) -> None:
    """task=tag scores only the steps in the sequences; say how many labels max_length drops."""
    labelled = int((events["tag"] != IGNORE_LABEL).sum())
    dropped = labelled - int((recent["tag"] != IGNORE_LABEL).sum())
    if dropped:
        log.warning(
            "%d of %d labelled steps are older than each entity's most recent data.max_length=%d "
            "events and are neither trained on nor scored; raise data.max_length to keep them",
            dropped,
            labelled,
            max_length,
        )
