"""The progress bar: Lightning's rich bar, with its metrics column refreshed once per epoch.

seqlab logs metrics per epoch only (models/classifier.py), so the bar's metric column cannot
change between batches; Lightning's bar still gathers and formats every metric after each
batch, which costs more than advancing the bar itself on short batches.
"""

from typing import Any

from lightning.pytorch.callbacks import RichProgressBar


class EpochMetricsProgressBar(RichProgressBar):
    def on_train_batch_end(
        self, trainer: Any, pl_module: Any, outputs: Any, batch: Any, batch_idx: int
    ) -> None:
        if not self.is_disabled and self.train_progress_bar_id is None:
            self._initialize_train_progress_bar_id()  # resumed in the middle of an epoch
        self._update(self.train_progress_bar_id, batch_idx + 1)
