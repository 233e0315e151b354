"""task=generate on text: a class-conditioned word-level decoder (data/text/generate.py).

The generator's module (teacher forcing, val/loss picks the best checkpoint) with the loss
kept per token: `{split}/loss` is the mean negative log-likelihood per real token (the end of
message included, padding never), `{split}/perplexity` its exponential, and on the test split
both per conditioning class as well (`test/loss/<class>`, `test/perplexity/<class>`).

`sample_messages` draws messages for a batch of classes, one fused decoder step for all of
them at once, until each has drawn the end of message or `max_steps` tokens.
"""

import math
from typing import cast

import torch
import torch.nn.functional as F
from torch import nn
from torchmetrics import MeanMetric

from seqlab.data.batch import IGNORE_LABEL, PAD_ID, Batch
from seqlab.data.text.generate import message_classes
from seqlab.data.text.tokenize import UNK_ID
from seqlab.models.generator import SequenceGenerator
from seqlab.models.recurrent import RecurrentEncoder


class TextGenerator(SequenceGenerator):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        conditions = (self.hparams.get("fitted") or {}).get("conditions") or []
        self.conditions: list[str] = list(conditions)
        # keyed by index: a class name may hold characters a module name may not
        self.class_losses = nn.ModuleDict(
            {f"class{index}": MeanMetric() for index in range(len(self.conditions))}
        )

    @property
    def boundary(self) -> int:
        """The id read as the start of a message and predicted as its end."""
        return int(self.hparams["meta"]["num_classes"]) - 1

    def _step(self, batch: Batch, split: str) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        logits, labels = self(batch), batch.labels
        real = labels != IGNORE_LABEL
        count = int(real.sum())
        if not count:
            zero = logits.sum() * 0.0
            return zero, zero.detach(), logits
        nll = F.cross_entropy(logits[real].float(), labels[real], reduction="none")
        loss = nll.mean()
        cast(MeanMetric, self.split_losses[f"{split}_"]).update(loss.detach(), weight=count)
        if split == "test":
            classes = message_classes(batch.categories)[:, None].expand_as(labels)[real]
            for index in range(len(self.conditions)):
                mine = classes == index
                if bool(mine.any()):
                    metric = cast(MeanMetric, self.class_losses[f"class{index}"])
                    metric.update(nll[mine].mean().detach(), weight=int(mine.sum()))
        return loss, nll.detach(), logits

    def _log_epoch(self, split: str) -> dict[str, float]:
        values = self.epoch_values(split)
        self.log_dict(values, on_step=False, on_epoch=True, sync_dist=True)
        return values

    def epoch_values(self, split: str) -> dict[str, float]:
        """The split's mean loss per token and perplexity since the last call (test: per class
        too), synchronised across processes by torchmetrics; then reset."""
        loss = cast(MeanMetric, self.split_losses[f"{split}_"])
        values = _loss_and_perplexity(f"{split}/", "", loss)
        if split == "test":
            for index, name in enumerate(self.conditions):
                metric = cast(MeanMetric, self.class_losses[f"class{index}"])
                values |= _loss_and_perplexity("test/", f"/{name}", metric)
        return values

    @torch.no_grad()
    def sample_messages(
        self,
        classes: torch.Tensor,
        max_steps: int,
        temperature: float = 1.0,
        greedy: bool = False,
        generator: torch.Generator | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Token ids (messages, steps; padding after each message's end) and each message's
        length in tokens, for the class indices `classes`. Padding and [UNK] are never drawn
        (an unknown word is no word of a message), nor the end before the first token."""
        encoder = cast(RecurrentEncoder, self.encoder)
        count = len(classes)
        token = torch.full((count,), self.boundary, dtype=torch.long)
        condition = classes.long() + 1
        no_features = torch.zeros(count, 1, 0)
        finished = torch.zeros(count, dtype=torch.bool)
        lengths = torch.full((count,), max_steps, dtype=torch.long)
        hidden = None
        drawn = []
        for step in range(max_steps):
            categories = torch.stack([token, condition], dim=1)[:, None, :]
            output, hidden = encoder.rnn(self.inputs(no_features, categories), hidden)
            logits = self.head(encoder.norm(output[:, -1])).float()
            logits[:, [PAD_ID, UNK_ID]] = -math.inf
            if step == 0:
                logits[:, self.boundary] = -math.inf
            token = _draw(logits, temperature, greedy, generator)
            ends = (token == self.boundary) & ~finished
            lengths[ends] = step
            finished |= ends
            drawn.append(torch.where(finished, PAD_ID, token))
            if bool(finished.all()):
                break
        return torch.stack(drawn, dim=1), lengths


def _loss_and_perplexity(prefix: str, suffix: str, metric: MeanMetric) -> dict[str, float]:
    loss = float(metric.compute())
    metric.reset()
    return {f"{prefix}loss{suffix}": loss, f"{prefix}perplexity{suffix}": math.exp(loss)}


def _draw(
    logits: torch.Tensor, temperature: float, greedy: bool, generator: torch.Generator | None
) -> torch.Tensor:
    if greedy:
        return logits.argmax(dim=-1)
    probabilities = (logits / temperature).softmax(dim=-1)
    return torch.multinomial(probabilities, 1, generator=generator)[:, 0]
