"""Label encoding and seeded, stratified splits shared by every data kind."""

import logging

import numpy as np
from sklearn.model_selection import train_test_split

from seqlab.data.labels import label_name
from seqlab.errors import SeqlabError

log = logging.getLogger(__name__)


def encode_labels(
    train_labels: np.ndarray, test_labels: np.ndarray, train_file: str, test_file: str
) -> tuple[np.ndarray, np.ndarray, tuple[str, ...]]:
    """Map labels of any form ({-1, 1}, 1..K, strings) to 0..K-1, keeping their names.

    Classes are sorted numerically when every label is a number, so "2" < "10".
    """
    classes = np.unique(train_labels)
    if len(classes) < 2:
        raise SeqlabError(
            f"{train_file}: only one class ({str(classes[0])!r}) in the training data; "
            "a classifier needs at least two"
        )
    unseen = sorted(str(label) for label in set(np.unique(test_labels)) - set(classes))
    if unseen and test_file == train_file:
        raise SeqlabError(
            f"{train_file}: label(s) {unseen} of a part held out from this file never appear in "
            "its training part; lower the held-out fraction (data.val_fraction, "
            "data.test_fraction) or add examples of them"
        )
    if unseen:
        raise SeqlabError(
            f"{test_file}: label(s) {unseen} never appear in the training data "
            f"{train_file}; fix the files or drop those rows"
        )
    try:
        order = np.argsort(classes.astype(float), kind="stable")
    except ValueError:
        order = np.argsort(classes, kind="stable")
    classes = classes[order]
    names = tuple(label_name(c) for c in classes)
    index = {c: i for i, c in enumerate(classes)}
    return (
        np.array([index[c] for c in train_labels], dtype=np.int64),
        np.array([index[c] for c in test_labels], dtype=np.int64),
        names,
    )


def stratified_split(
    labels: np.ndarray,
    fraction: float,
    seed: int,
    option: str,
    names: tuple[str, ...] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Indices (keep, held_out) with `fraction` of each class held out, the same for one seed;
    `option` is the config key the fraction came from, `names` the classes' names, for the
    messages.

    A class with a single example cannot be split: it stays in the kept (training) part, which
    must see every class, and the others are stratified as usual (R52's training file has one
    `platinum` document)."""
    if not 0.0 < fraction < 1.0:
        raise SeqlabError(f"{option}={fraction} must lie strictly between 0 and 1")
    indices = np.arange(len(labels))
    counts = np.bincount(labels)
    singletons = np.flatnonzero(counts == 1)
    alone = np.isin(labels, singletons)
    if alone.any():
        log.warning(
            "%s with a single example: kept in the training part, none held out by %s",
            _classes(singletons, names),
            option,
        )
    splittable = indices[~alone]
    try:
        keep, held_out = train_test_split(
            splittable, test_size=fraction, random_state=seed, stratify=labels[splittable]
        )
    except ValueError as error:
        raise SeqlabError(
            f"cannot split {len(labels)} samples with {option}={fraction}: {error}"
        ) from None
    lost = np.setdiff1d(labels[held_out], labels[keep])
    if lost.size:
        raise SeqlabError(
            f"{option}={fraction} holds out every example of {_classes(lost, names)}, leaving "
            "the training part without it; lower the fraction or add examples"
        )
    return np.sort(np.concatenate([keep, indices[alone]])), np.sort(held_out)


def _classes(codes: np.ndarray, names: tuple[str, ...] | None) -> str:
    shown = [names[c] if names else str(c) for c in codes.tolist()]
    return f"class {shown[0]}" if len(shown) == 1 else f"classes {', '.join(shown)}"
