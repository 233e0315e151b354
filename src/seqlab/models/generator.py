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

from dataclasses import dataclass
from typing import cast

import torch
from torch import nn
from torchmetrics import MeanMetric

from seqlab.data.batch import IGNORE_LABEL, Batch
from seqlab.data.events.futures import FutureState, week_inputs
from seqlab.models.classifier import SequenceClassifier
from seqlab.models.recurrent import RecurrentEncoder
from seqlab.models.steps import per_step_encoder, step_loss


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

    def class_metrics(self, num_classes: int) -> nn.ModuleDict:
        """None: its test part is scored by sampling (training/generate.py)."""
        return nn.ModuleDict()

    def loss_metric(self) -> MeanMetric:
        """Its loss is weighed by the labelled steps of each batch (`_step`)."""
        return MeanMetric()

    def _step(self, batch: Batch, split: str) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        logits, labels = self(batch), batch.labels
        real = labels != IGNORE_LABEL
        loss = step_loss(self.loss_fn, logits[real], labels[real])
        count = int(real.sum())
        if count:
            cast(MeanMetric, self.split_losses[f"{split}_"]).update(loss.detach(), weight=count)
        return loss, logits.detach().float().softmax(dim=-1), logits

    def test_step(self, batch: Batch, batch_idx: int) -> None:
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
        return self._unroll(history, weeks, samples, temperature, greedy, generator)[0]

    @torch.no_grad()
    def rollout(
        self,
        history: torch.Tensor,
        weeks: int,
        samples: int,
        temperature: float = 1.0,
        greedy: bool = False,
        generator: torch.Generator | None = None,
    ) -> "Futures":
        """The sampled futures of `sample` with, at each generated week of each future, the
        distribution the count was drawn from (its expectation), and per entity the exact
        probability of no event in any generated week."""
        drawn, expected = self._unroll(history, weeks, samples, temperature, greedy, generator)
        return Futures(drawn, expected, self._no_event(history, weeks, temperature))

    def _unroll(
        self,
        history: torch.Tensor,
        weeks: int,
        samples: int,
        temperature: float,
        greedy: bool,
        generator: torch.Generator | None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """The drawn counts and each draw's expectation, (entities, samples, weeks) each."""
        entities = history.shape[0]
        hidden, logits = self._condition(history, samples)
        state = FutureState(history.repeat_interleave(samples, dim=0))
        drawn, expected = [], []
        for week in range(weeks):
            probabilities = (logits.float() / temperature).softmax(dim=-1)
            count = logits.argmax(dim=-1) if greedy else _draw(probabilities, generator)
            drawn.append(count)
            expected.append(probabilities @ _classes(probabilities))
            if week < weeks - 1:
                logits, hidden = self._step_from(state, count, hidden)
        shape = (entities, samples, weeks)
        return torch.stack(drawn, dim=1).reshape(shape), torch.stack(expected, dim=1).reshape(shape)

    def _condition(self, history: torch.Tensor, samples: int):
        """The decoder state after the history weeks, repeated for each sample, and the logits
        of the first generated week."""
        encoder = cast(RecurrentEncoder, self.encoder)
        # the inputs of every history week and of the first generated one, which reads the
        # history only (the appended zero week is never read)
        history_inputs = week_inputs(torch.nn.functional.pad(history, (0, 1)))
        steps = self.inputs(history_inputs, _no_categories(history_inputs))
        outputs, hidden = encoder.rnn(steps)
        # every sample of an entity starts from its conditioned state
        hidden = _repeat_state(hidden, samples)
        logits = self.head(encoder.norm(outputs[:, -1])).repeat_interleave(samples, dim=0)
        return hidden, logits

    def _step_from(self, state: FutureState, count: torch.Tensor, hidden):
        """One decoder step after `count` was generated: the next week's logits and state."""
        encoder = cast(RecurrentEncoder, self.encoder)
        state.advance(count)
        step_inputs = state.inputs()
        steps = self.inputs(step_inputs, _no_categories(step_inputs))
        output, hidden = encoder.rnn(steps, hidden)
        return self.head(encoder.norm(output[:, -1])), hidden

    def _no_event(self, history: torch.Tensor, weeks: int, temperature: float) -> torch.Tensor:
        """(entities,) P(count 0 in every generated week) = the product over the weeks of
        P(0 | no event since the history), read off the one future without events."""
        hidden, logits = self._condition(history, 1)
        state = FutureState(history)
        none = torch.ones(history.shape[0], device=history.device)
        zero = torch.zeros(history.shape[0], dtype=torch.long, device=history.device)
        for week in range(weeks):
            none = none * (logits.float() / temperature).softmax(dim=-1)[:, 0]
            if week < weeks - 1:
                logits, hidden = self._step_from(state, zero, hidden)
        return none


@dataclass
class Futures:
    """Sampled futures of `SequenceGenerator.rollout`."""

    counts: torch.Tensor  # (entities, samples, weeks) drawn counts
    # (entities, samples, weeks): the expected count of the week given the sample's earlier
    # draws; averaged over the samples it estimates the same expectation as the counts' mean
    # with less Monte Carlo noise (Rao-Blackwellisation)
    expected: torch.Tensor
    no_event: torch.Tensor  # (entities,) exact P(no event in any generated week)


def _no_categories(inputs: torch.Tensor) -> torch.Tensor:
    return torch.zeros(*inputs.shape[:2], 0, dtype=torch.long, device=inputs.device)


def _repeat_state(hidden, samples: int):
    if isinstance(hidden, tuple):  # LSTM: (h, c)
        return tuple(h.repeat_interleave(samples, dim=1) for h in hidden)
    return hidden.repeat_interleave(samples, dim=1)


def _draw(probabilities: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
    return torch.multinomial(probabilities, 1, generator=generator)[:, 0]


def _classes(probabilities: torch.Tensor) -> torch.Tensor:
    """The count of each class (the last one: that many or more)."""
    return torch.arange(
        probabilities.shape[-1], dtype=probabilities.dtype, device=probabilities.device
    )
