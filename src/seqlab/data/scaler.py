"""A fitted StandardScaler as plain lists (stored in checkpoints, loaded with weights_only), and
its transform applied to new data from those lists.

`standardize` is StandardScaler.transform's own arithmetic with numpy alone (the input's float
type kept, the mean and scale cast to it, subtracted and divided in place, as scikit-learn
does), equal to it bit for bit (tests/test_predict.py): importing scikit-learn costs
seqlab-predict more than reading and predicting a test file.
"""

from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from sklearn.preprocessing import StandardScaler

# the float types scikit-learn keeps (its supported_float_dtypes); others become float64
_KEPT_FLOATS = (np.float64, np.float32, np.float16)


def scaler_state(scaler: "StandardScaler") -> dict[str, Any]:
    return {
        "mean": [float(v) for v in scaler.mean_],
        "scale": [float(v) for v in scaler.scale_],
        "var": [float(v) for v in scaler.var_],
    }


def standardize(values: np.ndarray, state: dict[str, Any]) -> np.ndarray:
    """(values - mean) / scale per column, as the fitted scaler's transform gives it."""
    array = np.asarray(values)
    dtype = array.dtype if array.dtype.type in _KEPT_FLOATS else np.float64
    scaled = np.array(array, dtype=dtype, copy=True)
    scaled -= np.asarray(state["mean"], dtype=np.float64).astype(dtype)
    scaled /= np.asarray(state["scale"], dtype=np.float64).astype(dtype)
    return scaled
