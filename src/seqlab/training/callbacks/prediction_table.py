"""The test split's per-sample predictions as a table, misclassified samples first (the most
confident mistakes at the top), capped at `rows`: plots/predictions_test.csv, and a W&B table
(`test/predictions`) when a WandbLogger is attached, so the dashboard shows the errors.

Columns: id (the sample's position in the test split), true and predicted class names, the
probability given to the true class, and the text for text data. A sample's position comes from
the test loader's sampler (length-bucketed or split across DDP ranks), so every rank's share is
put back in place on rank 0.
"""

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from lightning.pytorch.callbacks import Callback
from lightning.pytorch.loggers import WandbLogger

from seqlab.files import atomic_path

TABLE_FILE = "predictions_test.csv"


class SplitPredictionTable(Callback):
    def __init__(
        self,
        out_dir: Path,
        class_names: Sequence[str],
        rows: int,
        texts: Sequence[str] | None = None,
    ):
        self.out_dir, self.rows = Path(out_dir), rows
        self.class_names = np.array([str(name) for name in class_names], dtype=object)
        self.texts = texts
        self._order: list[int] = []
        self._parts: list[tuple[torch.Tensor, torch.Tensor]] = []

    def on_test_epoch_start(self, trainer: Any, pl_module: Any) -> None:
        self._order, self._parts = sample_order(trainer.test_dataloaders), []

    def on_test_batch_end(
        self, trainer: Any, pl_module: Any, outputs: Any, batch: Any, batch_idx: int, *args: Any
    ) -> None:
        probabilities = outputs["probabilities"].detach().float().cpu()
        self._parts.append((probabilities, outputs["labels"].detach().cpu()))

    def on_test_epoch_end(self, trainer: Any, pl_module: Any) -> None:
        if not self._parts or self.rows <= 0:
            return
        probabilities = torch.cat([p for p, _ in self._parts]).numpy()
        labels = torch.cat([y for _, y in self._parts]).numpy()
        index = np.asarray(self._order[: len(labels)], dtype=np.int64)
        if trainer.world_size > 1:
            import torch.distributed as dist

            shares: list[Any] = [None] * dist.get_world_size()
            dist.all_gather_object(shares, (index, probabilities, labels))
            index, probabilities, labels = (
                np.concatenate([share[i] for share in shares]) for i in range(3)
            )
        if not trainer.is_global_zero:
            return
        table = self.table(index, probabilities, labels)
        with atomic_path(self.out_dir / TABLE_FILE) as temporary:
            table.to_csv(temporary, index=False, float_format="%.6g")
        for logger in trainer.loggers:
            if isinstance(logger, WandbLogger):
                import wandb

                logger.experiment.log({"test/predictions": wandb.Table(dataframe=table)})

    def table(self, index: np.ndarray, probabilities: np.ndarray, labels: np.ndarray):
        predicted = probabilities.argmax(axis=1)
        p_true = probabilities[np.arange(len(labels)), labels]
        columns: dict[str, Any] = {
            "id": index,
            "true": self.class_names[labels],
            "predicted": self.class_names[predicted],
            "p_true": p_true,
        }
        if self.texts is not None:
            columns["text"] = [self.texts[i] for i in index]
        table = pd.DataFrame(columns)
        table["_right"] = predicted == labels
        table = table.sort_values(["_right", "p_true", "id"], kind="stable")
        return table.drop(columns="_right").head(self.rows).reset_index(drop=True)


def sample_order(loader: Any) -> list[int]:
    """The positions of this rank's test samples in the order its loader yields them (its
    sampler yields an index per sample, or a list per batch)."""
    sampler = loader.batch_sampler if loader.batch_sampler is not None else loader.sampler
    order: list[int] = []
    for item in sampler:
        order.extend(item if isinstance(item, list) else [int(item)])
    return order
