"""predictions.csv / predictions.parquet: one row per input, in input order.

Columns: id, predicted (a class name), then either `p_<class>` per class or, with top_k,
`top<i>` and `top<i>_p` for the k likeliest classes; then `label` (the true class name) when the
input has labels. task=tag: one row per step, with the step's columns (`step`, `time`) after
`id` and an empty `label` where the step has none (censored). Probabilities are written with 8
significant digits, so one process and several give the same bytes. Written to a temporary
file and renamed (seqlab.files).
"""

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from seqlab.data.batch import IGNORE_LABEL
from seqlab.data.prediction import PredictionData, real_step_mask
from seqlab.files import atomic_path

DIGITS = "%.8g"


def predictions_table(
    data: PredictionData, probabilities: np.ndarray, class_names: Sequence[str], top_k: int
) -> pd.DataFrame:
    names = np.array([str(name) for name in class_names], dtype=object)
    columns: dict[str, object] = {"id": data.ids}
    labels = data.dataset.labels
    if data.steps is not None:  # task=tag: a row per real step of each input
        lengths = data.dataset.lengths
        columns["id"] = np.repeat(np.array(data.ids, dtype=object), lengths.numpy())
        columns |= {name: data.steps[name].to_numpy() for name in data.steps.columns}
        labels = labels[real_step_mask(lengths, labels.shape[1])]
    columns["predicted"] = names[probabilities.argmax(axis=1)]
    if top_k:
        ranked = np.argsort(-probabilities, axis=1, kind="stable")[:, :top_k]
        for rank in range(ranked.shape[1]):
            columns[f"top{rank + 1}"] = names[ranked[:, rank]]
            picked = np.take_along_axis(probabilities, ranked[:, rank : rank + 1], axis=1)
            columns[f"top{rank + 1}_p"] = picked[:, 0]
    else:
        for position, name in enumerate(names):
            columns[f"p_{name}"] = probabilities[:, position]
    if data.labelled:
        known = labels.numpy()
        columns["label"] = np.where(known == IGNORE_LABEL, "", names[known.clip(min=0)])
    return pd.DataFrame(columns)


def write_predictions(
    run_dir: Path,
    data: PredictionData,
    probabilities: np.ndarray,
    class_names: Sequence[str],
    file_format: str,
    top_k: int,
) -> Path:
    table = predictions_table(data, probabilities, class_names, top_k)
    target = run_dir / f"predictions.{file_format}"
    with atomic_path(target) as temporary:
        if file_format == "parquet":
            table.to_parquet(temporary, index=False)
        else:
            table.to_csv(temporary, index=False, float_format=DIGITS)
    return target
