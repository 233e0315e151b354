"""Categorical event columns as ids: a vocabulary fitted on the training part's history, shared
by training and by new inputs (data/events/predict.py).

Ids: 0 padding, 1 rare or unseen values, 2.. the known values in sorted order.
"""

import logging

import numpy as np
import pandas as pd

from seqlab.data.batch import PAD_ID

log = logging.getLogger(__name__)

UNKNOWN_ID = 1  # rare values and values never seen in the training part
FIRST_KNOWN_ID = 2


def fit_vocabularies(
    events: pd.DataFrame, columns: list[str], train_rows: np.ndarray, min_count: int
) -> dict[str, list[str]]:
    """Per column, its known values, sorted: those seen at least min_count times in the
    training part's history. All other values, and values first seen in validation, test or a
    new input, share UNKNOWN_ID."""
    vocabularies = {}
    for column in columns:
        counts = pd.Series(events[column].to_numpy()[train_rows]).value_counts()
        vocabularies[column] = [str(v) for v in np.sort(counts.index[counts >= min_count])]
    return vocabularies


def encode_categories(
    events: pd.DataFrame, vocabularies: dict[str, list[str]]
) -> tuple[np.ndarray, tuple[int, ...]]:
    """(events, columns) ids and each column's id count (padding and rare included)."""
    ids = np.full((len(events), len(vocabularies)), PAD_ID, dtype=np.int64)
    sizes = []
    for position, (column, vocabulary) in enumerate(vocabularies.items()):
        values = events[column].to_numpy()
        known = pd.Index(vocabulary)
        index = known.get_indexer(values)
        ids[:, position] = np.where(index < 0, UNKNOWN_ID, index + FIRST_KNOWN_ID)
        sizes.append(len(known) + FIRST_KNOWN_ID)
        log.info(
            "%s: %d known values; %d events get the rare/unseen id",
            column,
            len(known),
            (index < 0).sum(),
        )
    return ids, tuple(sizes)
