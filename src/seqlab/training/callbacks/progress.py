"""The progress bar: Lightning's rich bar, drawn 10 times a second, metrics read once per epoch.

Lightning's bar redraws up to 100 times a second from a thread of its own; each redraw is Python
work that holds the interpreter lock while training waits for it (docs/performance.md). Ten
redraws a second look the same to a person.

seqlab logs metrics per epoch only (models/classifier.py), so the bar's metric column cannot
change between batches; Lightning's bar still gathers and formats every metric after each
batch, which costs more than advancing the bar itself on short batches.
"""

from typing import Any

from lightning.pytorch.callbacks import RichProgressBar

REFRESH_PER_SECOND = 10


class EpochMetricsProgressBar(RichProgressBar):
    def __init__(self) -> None:
        super().__init__(refresh_rate=REFRESH_PER_SECOND)

    def on_train_batch_end(
        self, trainer: Any, pl_module: Any, outputs: Any, batch: Any, batch_idx: int
    ) -> None:
        if not self.is_disabled and self.train_progress_bar_id is None:
            self._initialize_train_progress_bar_id()  # resumed in the middle of an epoch
        self._update(self.train_progress_bar_id, batch_idx + 1)
