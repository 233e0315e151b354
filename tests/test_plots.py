"""Test-time plots: PNG files for two-class and many-class predictions."""

import numpy as np
import pytest

from seqlab.training.callbacks.plots import PLOT_FILES, save_plots


@pytest.mark.parametrize("num_classes", [2, 3])
def test_save_plots_writes_the_three_pngs(tmp_path, num_classes):
    rng = np.random.default_rng(0)
    labels = np.arange(60) % num_classes
    logits = rng.normal(size=(60, num_classes)) + 2.0 * np.eye(num_classes)[labels]
    probabilities = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    names = [f"class{i}" for i in range(num_classes)]
    paths = save_plots(probabilities, labels, names, tmp_path / "plots")
    assert [p.name for p in paths] == list(PLOT_FILES)
    for path in paths:
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert path.stat().st_size > 5000  # a drawn figure, not an empty canvas
