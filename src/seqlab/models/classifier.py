"""The LightningModule: the network (models/network.py: encoder + linear head, cross-entropy)
trained, validated and tested by Lightning, with its optimiser and one metric state per split.

task=classify puts the head on the pooled sequence; task=tag on every step's output
(models/tagger.py), with loss and metrics over the labelled steps.

It knows nothing of Hydra or files: it takes plain dicts (the model, optim and metrics sections
of the config, and the data's meta), which `save_hyperparameters` stores in every checkpoint so
`models.modules.load_module` can rebuild it from the checkpoint alone.
"""

from typing import TYPE_CHECKING, Any, cast

import lightning as L
import torch
from lightning.pytorch.strategies import DDPStrategy, SingleDeviceStrategy
from torch import nn
from torchmetrics import MeanMetric

from seqlab.data.batch import Batch
from seqlab.data.meta import DataMeta
from seqlab.layout import SPLITS
from seqlab.metrics.scores import METRIC_NAMES
from seqlab.metrics.state import MeanLoss, SplitMetrics
from seqlab.models.network import SequenceNetwork
from seqlab.schema import plain

if TYPE_CHECKING:
    from seqlab.config import TrainConfig

LOWER_IS_BETTER = {"loss"}


class SequenceClassifier(SequenceNetwork, L.LightningModule):
    @classmethod
    def from_config(
        cls, config: "TrainConfig", meta: DataMeta, fitted: dict | None
    ) -> "SequenceClassifier":
        """The module of a validated run config. Its hyperparameters, which every checkpoint
        stores, are plain values: torch's weights_only loader reads no seqlab class."""
        return cls(
            model=plain(config.model),
            meta=meta.to_dict(),
            optim=plain(config.optim),
            metrics=plain(config.metrics),
            data=plain(config.data),
            fitted=fitted,
            task=plain(config.task),
        )

    def __init__(
        self,
        model: dict,
        meta: dict,
        optim: dict,
        metrics: dict,
        data: dict | None = None,
        fitted: dict | None = None,
        task: dict | None = None,
    ):
        """The network's hyperparameters (models/network.py), stored in every checkpoint."""
        super().__init__(model, meta, optim, metrics, data, fitted, task)
        # Stored in checkpoints; the entry point logs the resolved config itself, flat.
        self.save_hyperparameters(logger=False)
        self.split_metrics = self.class_metrics(self.num_classes)
        self.split_losses = nn.ModuleDict({f"{split}_": self.loss_metric() for split in SPLITS})
        # Per split, this epoch's (loss, batch size) of every step so far.
        self.pending: dict[str, list[tuple[torch.Tensor, int]]] = {split: [] for split in SPLITS}
        self.best: dict[str, float] = {}
        self._grad_norm: tuple[int, float] | None = None  # (global step, raw global norm)

    def class_metrics(self, num_classes: int) -> nn.ModuleDict:
        """The metrics state of each split. ModuleDict keys may not shadow nn.Module attributes
        such as `train`, hence the suffix."""
        return nn.ModuleDict(
            {
                f"{split}_": SplitMetrics(num_classes, self.average, prefix=f"{split}/")
                for split in SPLITS
            }
        )

    def loss_metric(self) -> MeanLoss | MeanMetric:
        """The state of a split's mean loss (the generators weigh their losses their own way)."""
        return MeanLoss()

    def _step(self, batch: Batch, split: str) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Update the split's metrics; return the loss, the class probabilities (task=tag: of
        the labelled steps, flattened) and the model's logits (task=tag: of every step).

        The loss is kept and averaged once per epoch (`_update_loss`): the weighted mean is the
        same as with one update per batch, and MeanMetric's update checks its input for NaN,
        which waits for the device every step."""
        output = self(batch)
        logits, labels, loss = self.scored(output, batch.labels, split)
        # in float32 also under bf16 autocast: bf16 probabilities (3 significant digits) tie
        # often enough to change the exact AUROC, and numpy has no bf16 for the test plots
        probabilities = logits.detach().float().softmax(dim=-1)
        self._metrics(split).update(probabilities, labels)
        self.pending[split].append((loss.detach(), len(labels)))
        return loss, probabilities, output

    def scored(
        self, output: torch.Tensor, labels: torch.Tensor, split: str
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """The network's score of a batch (`score`): the logits and labels the split's metrics
        read, and the loss (models/tagger.py also keeps each sequence's exactness)."""
        scored = self.score(output, labels)
        return scored.logits, scored.labels, scored.loss

    def _update_loss(self, split: str) -> None:
        steps, self.pending[split] = self.pending[split], []
        if not steps:
            return
        losses, sizes = zip(*steps, strict=True)
        counts = torch.tensor(sizes, device=losses[0].device)
        cast(MeanLoss, self._loss(split)).update(torch.stack(losses), counts)

    def _metrics(self, split: str) -> SplitMetrics:
        return cast(SplitMetrics, self.split_metrics[f"{split}_"])

    def _loss(self, split: str) -> MeanLoss | MeanMetric:
        return cast(MeanLoss | MeanMetric, self.split_losses[f"{split}_"])

    def training_step(self, batch: Batch, batch_idx: int) -> torch.Tensor:
        return self._step(batch, "train")[0]

    def validation_step(self, batch: Batch, batch_idx: int) -> None:
        self._step(batch, "val")

    def test_step(self, batch: Batch, batch_idx: int) -> dict[str, torch.Tensor] | None:
        """Returned for callbacks that need every test prediction (callbacks/plots.py)."""
        _, probabilities, _ = self._step(batch, "test")
        return {"probabilities": probabilities, "labels": batch.labels}

    def on_train_epoch_end(self) -> None:
        self._log_epoch("train")

    def on_validation_epoch_end(self) -> None:
        values = self._log_epoch("val")
        if self.trainer.state.fn == "fit" and not self.trainer.sanity_checking:
            self._track_best(values)

    def on_test_epoch_end(self) -> None:
        self._log_epoch("test")

    def _log_epoch(self, split: str) -> dict[str, float]:
        """Compute the epoch's metrics, log them, and reset."""
        values = self.epoch_metrics(split)
        # Already equal on every rank; sync_dist only averages identical values (exactly) and
        # keeps Lightning from warning about unsynchronised epoch-level logging.
        self.log_dict(values, on_step=False, on_epoch=True, sync_dist=True)
        return {name: float(value) for name, value in values.items()}

    def epoch_metrics(self, split: str) -> dict[str, torch.Tensor]:
        """The split's metrics and loss over every sample its steps have seen since the last
        call (synchronised across processes by torchmetrics, so DDP gives the single-process
        numbers); then reset."""
        self._update_loss(split)
        values = {
            **self._metrics(split).compute(),
            f"{split}/loss": self._loss(split).compute(),
        }
        self._metrics(split).reset()
        self._loss(split).reset()
        return values

    def _track_best(self, values: dict[str, float]) -> None:
        """Keep val/<metric>_best, the best value of each metric over the epochs so far. Not
        logged every epoch: the pipeline writes them once when fit ends (each `log` costs
        Lightning's bookkeeping on every epoch, and W&B's summaries show each curve's best)."""
        for name in (*METRIC_NAMES, "loss"):
            key, value = f"val/{name}_best", values[f"val/{name}"]
            better = min if name in LOWER_IS_BETTER else max
            self.best[key] = better(self.best.get(key, value), value)

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        checkpoint["seqlab_best"] = dict(self.best)

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        self.best = dict(checkpoint.get("seqlab_best", {}))

    def record_grad_norm(self, step: int, norm: float) -> None:
        """Called from a callback's on_before_optimizer_step (before clipping) with the raw
        global gradient norm of this optimizer step."""
        self._grad_norm = (step, norm)

    def measured_grad_norm(self) -> float | None:
        """The raw global gradient norm of the current optimizer step, if one was recorded."""
        if self._grad_norm is None or self._grad_norm[0] != self.trainer.global_step:
            return None
        return self._grad_norm[1]

    def configure_gradient_clipping(
        self,
        optimizer: torch.optim.Optimizer,
        gradient_clip_val: float | None = None,
        gradient_clip_algorithm: str | None = None,
    ) -> None:
        """Lightning's norm clipping, with the raw norm a callback already measured for this
        step (`record_grad_norm`) instead of a second pass over every gradient (the same
        numbers). Only where every process holds whole gradients (one device or DDP); sharded
        strategies clip their own way."""
        norm = self.measured_grad_norm()
        whole = type(self.trainer.strategy) in (SingleDeviceStrategy, DDPStrategy)
        if norm is None or not whole or not gradient_clip_val or gradient_clip_algorithm != "norm":
            super().configure_gradient_clipping(
                optimizer, gradient_clip_val, gradient_clip_algorithm
            )
            return
        parameters = [p for group in optimizer.param_groups for p in group["params"]]
        torch.nn.utils.clip_grads_with_norm_(parameters, gradient_clip_val, torch.tensor(norm))

    def configure_optimizers(self) -> Any:
        optim = self.hparams["optim"]
        name, lr, decay = optim["name"], optim["lr"], optim["weight_decay"]
        optimizer: torch.optim.Optimizer
        if name == "sgd":
            optimizer = torch.optim.SGD(
                self.parameters(), lr=lr, momentum=optim["momentum"], weight_decay=decay
            )
        else:
            optimizer_class = {
                "adam": torch.optim.Adam,
                "adamw": torch.optim.AdamW,
                "adadelta": torch.optim.Adadelta,
            }[name]
            optimizer = optimizer_class(self.parameters(), lr=lr, weight_decay=decay)
        if optim["scheduler"] == "cosine":
            # fit() has resolved max_epochs before it asks for optimizers (None -> 1000 or -1)
            assert self.trainer.max_epochs is not None
            cosine = torch.optim.lr_scheduler.CosineAnnealingLR(
                optimizer, T_max=max(1, self.trainer.max_epochs)
            )
            return {"optimizer": optimizer, "lr_scheduler": cosine}
        if optim["scheduler"] == "plateau":
            plateau = torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, factor=0.5, patience=10)
            return {
                "optimizer": optimizer,
                "lr_scheduler": {"scheduler": plateau, "monitor": "val/loss"},
            }
        return optimizer
