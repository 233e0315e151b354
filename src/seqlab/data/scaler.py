"""A fitted StandardScaler as plain lists (stored in checkpoints, loaded with weights_only) and
back; the rebuilt scaler runs sklearn's own transform, so prediction scales exactly as training."""

from typing import Any

import numpy as np
from sklearn.preprocessing import StandardScaler


def scaler_state(scaler: StandardScaler) -> dict[str, Any]:
    return {
        "mean": [float(v) for v in scaler.mean_],
        "scale": [float(v) for v in scaler.scale_],
        "var": [float(v) for v in scaler.var_],
    }


def scaler_from_state(state: dict[str, Any]) -> StandardScaler:
    scaler = StandardScaler()
    scaler.mean_ = np.array(state["mean"], dtype=np.float64)
    scaler.scale_ = np.array(state["scale"], dtype=np.float64)
    scaler.var_ = np.array(state["var"], dtype=np.float64)
    scaler.n_features_in_ = len(state["mean"])
    return scaler
