"""task=generate: weekly futures, teacher forcing, seeded sampling, BG/NBD's inputs, refusals."""

import numpy as np
import pandas as pd
import pytest
import torch

from seqlab.data.batch import IGNORE_LABEL
from seqlab.data.events.futures import (
    MAX_COUNT,
    FutureState,
    week_inputs,
    week_targets,
    weekly_counts,
)
from seqlab.data.meta import DataMeta
from seqlab.errors import SeqlabError
from seqlab.models.generator import SequenceGenerator

from conftest import OPTIM, compose_train, small_recurrent

MODEL = small_recurrent("lstm")
META = DataMeta(5, MAX_COUNT + 1, tuple(str(k) for k in range(MAX_COUNT + 1)), 20).to_dict()


def generator_module(
    cell: str = "lstm", layers: int = 1, layer_norm: bool = False
) -> SequenceGenerator:
    torch.manual_seed(0)
    return SequenceGenerator(
        model={**MODEL, "cell": cell, "num_layers": layers, "layer_norm": layer_norm},
        meta=META,
        optim=OPTIM,
        metrics={"average": "binary"},
        task={"name": "generate"},
    ).eval()


def hand_log() -> pd.DataFrame:
    """Three customers from 2020-01-01; the cutoff 2020-01-29 is 4 weeks in."""
    rows = [
        ("a", "2020-01-01 09:00"),
        ("a", "2020-01-01 17:00"),  # the same day: one purchase
        ("a", "2020-01-09"),
        ("a", "2020-01-20"),
        ("a", "2020-02-03"),  # day 33: week 5, the first after the cutoff
        ("b", "2020-01-15"),
        ("c", "2020-01-08"),
        ("c", "2020-01-28"),
        ("c", "2020-03-30"),  # beyond a 4-week window
    ]
    return pd.DataFrame(
        {
            "entity": [e for e, _ in rows],
            "time": pd.to_datetime([t for _, t in rows], format="ISO8601"),
        }
    )


def test_weekly_counts_and_bgnbd_summary_of_a_hand_made_log():
    weekly = weekly_counts(hand_log(), np.array(["a", "b", "c"]), "2020-01-29", "28D")
    assert weekly.history_weeks == 4
    assert weekly.counts.tolist() == [
        [1, 1, 1, 0, 1, 0, 0, 0],
        [0, 0, 1, 0, 0, 0, 0, 0],
        [0, 1, 0, 1, 0, 0, 0, 0],
    ]
    assert weekly.first_week.tolist() == [0, 2, 1]
    # frequency: purchase days after the first; recency and T in weeks from the first day
    assert weekly.frequency.tolist() == [2.0, 0.0, 1.0]
    assert weekly.recency == pytest.approx([19 / 7, 0.0, 20 / 7])
    assert weekly.age == pytest.approx([28 / 7, 14 / 7, 21 / 7])


def test_a_cutoff_that_is_not_whole_weeks_is_refused():
    with pytest.raises(SeqlabError, match="not a whole number of weeks"):
        weekly_counts(hand_log(), np.array(["a", "b", "c"]), "2020-01-30", "28D")


def test_teacher_forcing_inputs_read_only_earlier_weeks_and_targets_mask_the_first():
    weekly = weekly_counts(hand_log(), np.array(["a", "b", "c"]), "2020-01-29", "28D")
    counts = torch.from_numpy(weekly.counts)
    inputs = week_inputs(counts)
    assert inputs.shape == (3, 8, 5)
    for week in range(8):
        changed = counts.clone()
        changed[:, week:] = 5
        assert torch.equal(week_inputs(changed)[:, : week + 1], inputs[:, : week + 1])
    targets = week_targets(weekly)
    assert targets.shape == (3, 8)
    assert targets[1].tolist() == [IGNORE_LABEL] * 3 + [0, 0, 0, 0, 0]
    assert targets[0, 1:].tolist() == [1, 1, 0, 1, 0, 0, 0]


def test_the_sampling_state_gives_the_teacher_forcing_inputs_week_by_week():
    counts = torch.tensor([[0, 2, 0, 0, 1, 0, 3, 0], [1, 0, 0, 0, 0, 0, 0, 1]])
    expected = week_inputs(counts)
    state = FutureState(counts[:, :3])
    for week in range(3, 8):
        assert torch.allclose(state.inputs()[:, 0], expected[:, week])
        state.advance(counts[:, week])


def test_sampling_is_reproducible_with_a_seed():
    module = generator_module()
    history = torch.randint(0, 3, (6, 10))

    def draw(seed: int) -> torch.Tensor:
        return module.sample(history, 8, 5, generator=torch.Generator().manual_seed(seed))

    first = draw(1)
    assert first.shape == (6, 5, 8)
    assert int(first.min()) >= 0 and int(first.max()) <= MAX_COUNT
    assert torch.equal(first, draw(1))
    assert not torch.equal(first, draw(2))
    greedy = module.sample(history, 8, 3, greedy=True)
    assert torch.equal(greedy[:, 0], greedy[:, 1])  # greedy futures do not vary


@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
def test_conditioning_on_another_history_changes_the_samples(cell):
    module = generator_module(cell, layers=2)
    quiet = torch.zeros(4, 10, dtype=torch.long)
    quiet[:, 0] = 1
    busy = torch.full((4, 10), 3)

    def draw(history: torch.Tensor) -> torch.Tensor:
        return module.sample(history, 8, 50, generator=torch.Generator().manual_seed(0))

    assert not torch.equal(draw(quiet), draw(busy))
    assert torch.equal(draw(quiet), draw(quiet))


@pytest.mark.parametrize("layer_norm", [False, True])
def test_the_decoder_sees_the_same_week_in_training_and_sampling(layer_norm):
    """The greedy first generated week equals the argmax of the teacher-forced output there."""
    module = generator_module(layer_norm=layer_norm)
    history = torch.randint(0, 3, (64, 10))
    full = torch.nn.functional.pad(history, (0, 4))
    with torch.no_grad():
        steps = module.inputs(week_inputs(full), torch.zeros(64, 14, 0, dtype=torch.long))
        logits = module.head(module.encoder(steps, torch.full((64,), 14)))
    greedy = module.sample(history, 1, 1, greedy=True)
    assert torch.equal(greedy[:, 0, 0], logits[:, 10].argmax(dim=-1))


def teacher_forced_probabilities(module: SequenceGenerator, counts: torch.Tensor) -> torch.Tensor:
    """(entities, weeks, classes) each week's distribution given the true earlier weeks, from
    one teacher-forced pass over the whole sequence (not the sampler's week-by-week state)."""
    entities, weeks = counts.shape
    with torch.no_grad():
        steps = module.inputs(week_inputs(counts), torch.zeros(entities, weeks, 0).long())
        logits = module.head(module.encoder(steps, torch.full((entities,), weeks)))
    return logits.softmax(dim=-1)


def test_rollout_draws_as_sample_with_exact_expectations_and_no_event_probability():
    module = generator_module()
    history = torch.randint(0, 3, (3, 10))
    history[:, 0] = 1
    weeks, samples = 3, 4000
    futures = module.rollout(history, weeks, samples, generator=torch.Generator().manual_seed(5))
    drawn = module.sample(history, weeks, samples, generator=torch.Generator().manual_seed(5))
    assert torch.equal(futures.counts, drawn)
    assert futures.expected.shape == (3, samples, weeks)

    classes = torch.arange(MAX_COUNT + 1).float()
    # week 1 of every future: the expectation under the teacher-forced distribution there
    first = teacher_forced_probabilities(module, torch.nn.functional.pad(history, (0, 1)))
    assert torch.allclose(futures.expected[:, :, 0], (first[:, 10] @ classes)[:, None])
    # a future's later week: the expectation given that future's own draws
    one = torch.cat([history[:1], futures.counts[0, 7][None]], dim=1)
    later = teacher_forced_probabilities(module, one)[0, 10:] @ classes
    assert torch.allclose(futures.expected[0, 7], later, atol=1e-6)

    # no event in any generated week: the product of P(0) along the all-zero continuation
    zeros = teacher_forced_probabilities(module, torch.nn.functional.pad(history, (0, weeks)))
    assert torch.allclose(futures.no_event, zeros[:, 10:, 0].prod(dim=1), atol=1e-6)
    # both agree with the draws up to Monte Carlo error (4 standard errors)
    share = (futures.counts.sum(dim=2) == 0).float().mean(dim=1)
    error = (futures.no_event * (1 - futures.no_event) / samples).sqrt()
    assert ((share - futures.no_event).abs() <= 4 * error + 1e-6).all()
    means = futures.counts.float().mean(dim=1)
    spread = futures.counts.float().std(dim=1) / samples**0.5
    assert ((futures.expected.mean(dim=1) - means).abs() <= 4 * spread + 1e-6).all()


def test_every_history_trains_but_held_out_generated_weeks_stay_unseen():
    """task.train_histories: the val and test entities' conditioning weeks join the training
    set; their generated weeks are neither read by it nor scored there, and their own splits
    score the generated weeks only."""
    from seqlab.data.events.futures import future_splits

    weekly = weekly_counts(hand_log(), np.array(["a", "b", "c"]), "2020-01-29", "28D")
    entity_splits = {"train": np.array([0]), "val": np.array([1]), "test": np.array([2])}
    splits, _ = future_splits(weekly, entity_splits, all_histories=True)
    plain, _ = future_splits(weekly, entity_splits)
    train = splits["train"]
    assert train.lengths.tolist() == [8, 4, 4]
    assert torch.equal(train.labels[0], plain["train"].labels[0])
    assert torch.equal(train.labels[1:, :4], week_targets(weekly)[[1, 2], :4])
    assert (train.labels[1:, 4:] == IGNORE_LABEL).all()
    for split in ("val", "test"):
        labels = splits[split].labels
        assert (labels[:, :4] == IGNORE_LABEL).all()
        assert torch.equal(labels[:, 4:], plain[split].labels[:, 4:])

    changed = weekly_counts(hand_log(), np.array(["a", "b", "c"]), "2020-01-29", "28D")
    changed.counts[1:, 4:] = 3  # other futures for the held-out entities
    again, _ = future_splits(changed, entity_splits, all_histories=True)
    for name in ("inputs", "lengths", "labels"):
        assert torch.equal(getattr(again["train"], name), getattr(train, name)), name
    assert not torch.equal(again["test"].labels, splits["test"].labels)


@pytest.mark.parametrize(
    ("overrides", "named"),
    [
        (["experiment=cdnow_futures_lstm", "model=bilstm"], "model.bidirectional=True"),
        (["experiment=cdnow_futures_lstm", "model.bidirectional=true"], "decoder runs forward"),
        (["experiment=cdnow_futures_lstm", "model=mlp"], "autoregressive recurrent decoder"),
        (["task=generate"], "data.kind='ucr'"),
        (
            ["experiment=cdnow_futures_lstm", "data.cutoff.time=null", "data.cutoff.events=3"],
            "data.cutoff.time",
        ),
        (["experiment=cdnow_futures_lstm", "model.chunk=2"], "use model.chunk=1"),
        (["experiment=cdnow_futures_lstm", "ensemble.seeds=[1,2]"], "drop ensemble.seeds"),
        (["experiment=cdnow_futures_lstm", "task.samples=0"], "task.samples=0"),
        (["experiment=cdnow_futures_lstm", "task.temperature=0"], "task.temperature=0"),
    ],
)
def test_what_generate_cannot_do_is_refused_in_one_line(overrides, named):
    with pytest.raises(SeqlabError) as error:
        compose_train(overrides)
    message = str(error.value)
    assert named in message and message.startswith("config: ") and "\n" not in message


def test_the_futures_experiment_composes():
    config = compose_train(["experiment=cdnow_futures_lstm"])
    assert config.task.name == "generate" and config.task.samples >= 100
    assert config.model.cell == "lstm" and not config.model.bidirectional


def test_bgnbd_on_cdnow_reproduces_the_reference_figures():
    """lifetimes on the full CDNOW log, weeks 1-39 calibration: 16,623 repeat purchases
    predicted in weeks 40-78 against 19,684 actual, per-customer MAE 0.817 (issue #16)."""
    from seqlab.baselines.bgnbd import expected_weekly, fit_bgnbd
    from seqlab.data.events.datamodule import EventDataModule

    datamodule = EventDataModule(compose_train(["experiment=cdnow_futures_lstm"]).data)
    datamodule.task = "generate"
    weekly = datamodule.weekly
    assert weekly.counts.shape == (23570, 78) and weekly.history_weeks == 39
    actual = weekly.counts[:, 39:].sum(axis=1)
    assert actual.sum() == 19684
    model = fit_bgnbd(weekly.frequency, weekly.recency, weekly.age)
    predicted = expected_weekly(model, weekly.frequency, weekly.recency, weekly.age, 39).sum(axis=1)
    assert round(predicted.sum()) == 16623
    assert np.abs(predicted - actual).mean() == pytest.approx(0.817, abs=0.001)

    # its posterior predictive draws: their mean is lifetimes' conditional expectation
    from seqlab.baselines.bgnbd import sampled_totals

    totals = sampled_totals(model, weekly.frequency, weekly.recency, weekly.age, 39, 200, 0)
    assert totals.mean() * len(totals) == pytest.approx(predicted.sum(), rel=0.01)
    for group in (weekly.frequency == 0, weekly.frequency >= 3):
        assert totals[group].mean() == pytest.approx(predicted[group].mean(), rel=0.02)
    repeat = sampled_totals(model, weekly.frequency, weekly.recency, weekly.age, 39, 200, 0)
    assert np.array_equal(totals, repeat) and totals.min() >= 0
