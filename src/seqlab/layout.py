"""Names of what a run writes into its run dir, and the splits every data kind has: one place,
read by training, evaluation, baselines and the reports."""

from pathlib import Path

SPLITS = ("train", "val", "test")
METRICS_FILE = "metrics.json"
PLOTS_DIR = "plots"
CHECKPOINT_DIR = "checkpoints"
LAST_CHECKPOINT = Path(CHECKPOINT_DIR) / "last.ckpt"
