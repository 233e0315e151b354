"""task=generate: an autoregressive recurrent decoder, trained with teacher forcing.

The recurrent network reads the conditioning weeks and then continues the sequence: its
output at week t is a distribution over week t's count, and its input at week t is built from
the counts before t (data/events/futures.py). Training feeds the true counts (teacher
forcing) and scores every labelled week; sampling feeds the network's own draws back, one
fused-kernel step per week for all customers and samples at once.

It is the classifier's LightningModule (optimiser, gradient clipping, checkpoint hooks, the
gradient diagnostics on its recurrent encoder) with a per-step head, its own loss bookkeeping
(val/loss picks the best checkpoint) and `sample`.
"""

from typing import cast

import torch
from torchmetrics import MeanMetric

from seqlab.data.batch import IGNORE_LABEL, Batch
from seqlab.data.events.futures import FutureState, week_inputs
from seqlab.models.classifier import SequenceClassifier
from seqlab.models.recurrent import RecurrentEncoder
from seqlab.models.tagger import per_step_encoder, step_loss


class SequenceGenerator(SequenceClassifier):
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
        super().__init__(model, meta, optim, metrics, data, fitted, task)
        if not isinstance(self.encoder, RecurrentEncoder):
            raise ValueError("task=generate needs a recurrent decoder")
        self.encoder = per_step_encoder(self.encoder)

    def _step(self, batch: Batch, split: str) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        logits, labels = self(batch), batch.labels
        real = labels != IGNORE_LABEL
        loss = step_loss(self.loss_fn, logits[real], labels[real])
        count = int(real.sum())
        if count:
            cast(MeanMetric, self.split_losses[f"{split}_"]).update(loss.detach(), weight=count)
        return loss, logits.detach().float().softmax(dim=-1), logits

    def test_step(self, batch: Batch, batch_idx: int) -> None:  # type: ignore[override]
        self._step(batch, "test")

    def _log_epoch(self, split: str) -> dict[str, float]:
        """The mean teacher-forced loss per labelled week over the split (exact under DDP)."""
        loss = cast(MeanMetric, self.split_losses[f"{split}_"])
        values = {f"{split}/loss": loss.compute()}
        loss.reset()
        self.log_dict(values, on_step=False, on_epoch=True, sync_dist=True)
        return {name: float(value) for name, value in values.items()}

    def _track_best(self, values: dict[str, float]) -> None:
        self.best["val/loss_best"] = min(
            self.best.get("val/loss_best", values["val/loss"]), values["val/loss"]
        )

    @torch.no_grad()
    def sample(
        self,
        history: torch.Tensor,
        weeks: int,
        samples: int,
        temperature: float = 1.0,
        greedy: bool = False,
        generator: torch.Generator | None = None,
    ) -> torch.Tensor:
        """(entities, samples, weeks) counts drawn after each entity's `history` counts
        (entities, history weeks): greedy (the likeliest count each week) or sampled at
        `temperature`, from `generator`'s random stream."""
        encoder = cast(RecurrentEncoder, self.encoder)
        entities = history.shape[0]
        # the inputs of every history week and of the first generated one, which reads the
        # history only (the appended zero week is never read)
        history_inputs = week_inputs(torch.nn.functional.pad(history, (0, 1)))
        steps = self.inputs(history_inputs, _no_categories(history_inputs))
        outputs, hidden = encoder.rnn(steps)
        # every sample of an entity starts from its conditioned state
        hidden = _repeat_state(hidden, samples)
        logits = self.head(encoder.norm(outputs[:, -1])).repeat_interleave(samples, dim=0)
        state = FutureState(history.repeat_interleave(samples, dim=0))
        drawn = []
        for week in range(weeks):
            count = _draw(logits, temperature, greedy, generator)
            drawn.append(count)
            if week == weeks - 1:
                break
            state.advance(count)
            step_inputs = state.inputs()
            steps = self.inputs(step_inputs, _no_categories(step_inputs))
            output, hidden = encoder.rnn(steps, hidden)
            logits = self.head(encoder.norm(output[:, -1]))
        return torch.stack(drawn, dim=1).reshape(entities, samples, weeks)


def _no_categories(inputs: torch.Tensor) -> torch.Tensor:
    return torch.zeros(*inputs.shape[:2], 0, dtype=torch.long, device=inputs.device)


def _repeat_state(hidden, samples: int):
    if isinstance(hidden, tuple):  # LSTM: (h, c)
        return tuple(h.repeat_interleave(samples, dim=1) for h in hidden)
    return hidden.repeat_interleave(samples, dim=1)


def _draw(
    logits: torch.Tensor, temperature: float, greedy: bool, generator: torch.Generator | None
) -> torch.Tensor:
    if greedy:
        return logits.argmax(dim=-1)
    probabilities = (logits.float() / temperature).softmax(dim=-1)
    return torch.multinomial(probabilities, 1, generator=generator)[:, 0]
