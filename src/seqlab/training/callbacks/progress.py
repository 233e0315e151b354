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

from seqlab.training.lightning_private import advance_train_bar

REFRESH_PER_SECOND = 10


class EpochMetricsProgressBar(RichProgressBar):
    def __init__(self) -> None:
        super().__init__(refresh_rate=REFRESH_PER_SECOND)

    def on_train_batch_end(
        self, trainer: Any, pl_module: Any, outputs: Any, batch: Any, batch_idx: int
    ) -> None:
        advance_train_bar(self, batch_idx + 1)
