"""task=tag: per-step labels with censoring, masks, causality, metrics over the labelled steps
(equal to scikit-learn on the flattened steps), the config refusals, and the commands."""

import json

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.metrics import (
    accuracy_score,
    f1_score,
    log_loss,
    precision_score,
    recall_score,
    roc_auc_score,
)

from seqlab.data.batch import IGNORE_LABEL, Batch
from seqlab.data.events.tags import step_features, tag_history
from seqlab.data.registry import build_datamodule
from seqlab.errors import SeqlabError
from seqlab.models.classifier import SequenceClassifier, load_classifier
from seqlab.models.tagger import real_steps, step_loss
from seqlab.training.pipeline import train

from conftest import OPTIM, compose_train, events_config, quick_overrides, run_cli

TAG_DATA = {
    "time_features": ["gap", "since_first"],
    "step_label": {"min_events": 1, "horizon": "30D", "observed_until": None},
}


def log_of(rows: list[tuple[str, str]]) -> pd.DataFrame:
    """The canonical event table read_event_log gives, from (entity, date) rows."""
    return pd.DataFrame(
        {
            "entity": [entity for entity, _ in rows],
            "time": pd.to_datetime([day for _, day in rows], format="ISO8601"),
            "amount": np.arange(len(rows), dtype=np.float64),
            "row": np.arange(len(rows)),
        }
    )


PURCHASES = [
    ("a", "2020-01-01"),
    ("a", "2020-01-01"),  # the same day again: not a later purchase
    ("a", "2020-01-20"),
    ("a", "2020-03-01"),
    ("a", "2020-04-30"),  # 25 days before the end, but 30 days reach past it
    ("a", "2020-05-25"),
    ("b", "2020-01-10"),
    ("b", "2020-05-20"),
]


def tags(step_label: dict, rows=PURCHASES) -> dict[str, list[int]]:
    events = tag_history(log_of(rows), step_label, "D").events
    return {e: list(group["tag"]) for e, group in events.groupby("entity")}


def test_a_step_is_positive_when_the_entity_buys_again_on_a_later_day_within_the_horizon():
    observed = tags({"min_events": 1, "horizon": "30D", "observed_until": "2020-12-31"})
    assert observed == {"a": [1, 1, 0, 0, 1, 0], "b": [0, 0]}


def test_steps_whose_horizon_passes_the_end_are_censored_never_negative():
    labels = tags({"min_events": 1, "horizon": "30D", "observed_until": None})  # end 2020-05-25
    assert labels == {"a": [1, 1, 0, 0, IGNORE_LABEL, IGNORE_LABEL], "b": [0, IGNORE_LABEL]}
    later_end = tags({"min_events": 1, "horizon": "30D", "observed_until": "2020-06-10"})
    assert later_end == {"a": [1, 1, 0, 0, 1, IGNORE_LABEL], "b": [0, IGNORE_LABEL]}


def test_without_a_horizon_steps_count_all_later_events_and_none_is_censored():
    clicks = [("s", f"2020-01-01 00:00:0{i}") for i in range(6)] + [("t", "2020-01-01")] * 2
    labels = tags({"min_events": 3, "horizon": None, "observed_until": None}, clicks)
    assert labels == {"s": [1, 1, 1, 0, 0, 0], "t": [0, 0]}


def test_every_step_censored_is_one_line():
    with pytest.raises(SeqlabError, match="every step is censored"):
        tags({"min_events": 1, "horizon": "400D", "observed_until": None})


def test_padding_and_censored_steps_are_ignore_labels_in_every_split(event_log):
    module = build_datamodule(events_config(event_log, **TAG_DATA, max_length=50), "tag")
    module.setup("fit")
    history = module.history.events
    censored = history["time"] + pd.Timedelta("30D") > history["time"].max()
    assert censored.any() and (history.loc[censored, "tag"] == IGNORE_LABEL).all()
    assert set(history.loc[~censored, "tag"]) == {0, 1}
    for split, codes in module.entity_splits.items():
        dataset = module.splits[split]
        for row, code in enumerate(codes):
            expected = history.loc[history["code"] == code, "tag"].to_numpy()
            length = int(dataset.lengths[row])
            assert length == len(expected)
            assert dataset.labels[row, :length].tolist() == expected.tolist()
            assert (dataset.labels[row, length:] == IGNORE_LABEL).all()


def test_step_features_read_only_the_event_and_earlier_ones():
    events = tag_history(log_of(PURCHASES), TAG_DATA["step_label"], "D").events
    before = step_features(events, ["amount"])
    changed = events.copy()
    later = changed["time"] > pd.Timestamp("2020-01-20")
    changed.loc[later, "amount"] = 1e6
    after = step_features(changed, ["amount"])
    pd.testing.assert_frame_equal(before[~later], after[~later])
    assert not before[later].equals(after[later])


def test_embedded_cdnow_labels_purchases_and_censors_the_last_90_days():
    config = compose_train(["experiment=cdnow_tag_gru"])
    module = build_datamodule(config["data"], "tag")
    module.setup("fit")
    events = module.history.events
    late = events["time"] > pd.Timestamp("1998-06-30") - pd.Timedelta("90D")
    assert (events.loc[late, "tag"] == IGNORE_LABEL).all()
    assert set(events.loc[~late, "tag"]) == {0, 1}
    labelled = sum(int((d.labels != IGNORE_LABEL).sum()) for d in module.splits.values())
    assert labelled == int((~late).sum()) == 63_799  # every purchase is kept (max_length 250)
    assert 0.45 < events.loc[~late, "tag"].mean() < 0.55


def test_yoochoose_labels_each_click_by_three_more_clicks(shared_datasets):
    config = compose_train(["experiment=yoochoose_tag_gru"])
    module = build_datamodule(config["data"], "tag")
    module.setup("fit")
    events = module.history.events
    remaining = events.groupby("code").cumcount(ascending=False)
    # clicks at the same timestamp are not "more" clicks, which almost never happens
    assert (events["tag"].to_numpy() == (remaining >= 3).to_numpy()).mean() > 0.999
    assert (events["tag"] != IGNORE_LABEL).all()


# -- the model -----------------------------------------------------------------------------------

META = {"num_features": 3, "num_classes": 2, "class_names": ["no", "yes"], "max_length": 9}
MODEL = {
    "kind": "recurrent",
    "hidden_size": 8,
    "dropout": 0.0,
    "pooling": "max",
    "single_bias": False,
    "embedding_dim": 4,
    "embedding_dropout": 0.0,
    "freeze_embeddings": False,
}


def tagger(cell: str, bidirectional: bool = False, layers: int = 2) -> SequenceClassifier:
    torch.manual_seed(0)
    model = {**MODEL, "cell": cell, "bidirectional": bidirectional, "num_layers": layers}
    module = SequenceClassifier(
        model, META, OPTIM, {"average": "binary"}, task={"name": "tag", "causal": True}
    )
    return module.eval()


def batch(inputs: torch.Tensor, lengths: list[int]) -> Batch:
    n, steps = inputs.shape[:2]
    return Batch(
        inputs,
        torch.zeros(n, steps, 0, dtype=torch.long),
        torch.tensor(lengths),
        torch.zeros(n, steps, dtype=torch.long),
    )


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
@pytest.mark.parametrize("t", [0, 3, 6])
def test_changing_every_event_after_step_t_leaves_predictions_up_to_t(cell, t):
    module = tagger(cell)
    inputs = torch.randn(4, 9, 3)
    changed = inputs.clone()
    changed[:, t + 1 :] = torch.randn(4, 9 - t - 1, 3) * 5
    lengths = [9, 7, 8, 9]  # padded, so the packed path runs
    with torch.no_grad():
        before, after = module(batch(inputs, lengths)), module(batch(changed, lengths))
    assert before.shape == (4, 9, 2)
    torch.testing.assert_close(before[:, : t + 1], after[:, : t + 1], rtol=0, atol=0)
    assert not torch.allclose(before[:, t + 1 :], after[:, t + 1 :])  # the change did reach them


def test_a_bidirectional_tagger_reads_the_future_so_causal_must_be_off():
    module = tagger("gru", bidirectional=True, layers=1)
    inputs = torch.randn(2, 9, 3)
    changed = inputs.clone()
    changed[:, 5:] += 3.0
    with torch.no_grad():
        before, after = module(batch(inputs, [9, 9])), module(batch(changed, [9, 9]))
    assert not torch.allclose(before[:, :5], after[:, :5])  # what causal=true refuses


def test_padded_and_ignored_steps_never_reach_loss_or_metrics():
    logits = torch.randn(3, 5, 2)
    labels = torch.tensor(
        [[0, 1, 1, IGNORE_LABEL, IGNORE_LABEL], [1, IGNORE_LABEL, 0, 0, 1], [IGNORE_LABEL] * 5]
    )
    junk = logits.clone()
    junk[labels == IGNORE_LABEL] = 1e4 * torch.randn(int((labels == IGNORE_LABEL).sum()), 2)
    kept, flat, exact = real_steps(logits, labels)
    kept_junk, flat_junk, exact_junk = real_steps(junk, labels)
    assert flat.tolist() == [0, 1, 1, 1, 0, 0, 1] and flat.equal(flat_junk)
    assert kept.equal(kept_junk) and exact.equal(exact_junk) and len(exact) == 2
    loss_fn = torch.nn.CrossEntropyLoss()
    assert step_loss(loss_fn, kept, flat) == loss_fn(kept, flat)
    empty = step_loss(loss_fn, kept[:0], flat[:0])
    assert empty.item() == 0.0 and empty.requires_grad is kept.requires_grad


# -- runs ----------------------------------------------------------------------------------------


def tag_run(event_log, out, *extra: str) -> dict:
    config = compose_train(
        quick_overrides(
            "data=events",
            "task=tag",
            "model=gru",
            "data.time_features=[gap,since_first]",
            "metrics.average=binary",
            "seed=3",
            *extra,
        ),
        out,
    )
    config["data"] = events_config(event_log, **TAG_DATA, max_length=50)
    return config


@pytest.fixture(scope="module")
def tag_checkpoint(tmp_path_factory):
    from conftest import synthetic_events

    folder = tmp_path_factory.mktemp("tag")
    log = folder / "events.csv"
    synthetic_events(entities=200).to_csv(log, index=False)
    metrics = train(tag_run(log, folder / "run"))
    best = next(p for p in (folder / "run" / "checkpoints").glob("epoch*.ckpt"))
    return best, metrics


@pytest.mark.slow
def test_step_metrics_equal_sklearn_on_the_flattened_real_steps(tag_checkpoint):
    path, metrics = tag_checkpoint
    module, _ = load_classifier(str(path))
    datamodule = build_datamodule(module.hparams["data"], "tag")
    datamodule.setup("test")
    test = datamodule.splits["test"]
    everything = test.batch(torch.arange(len(test)), int(test.lengths.max()))
    with torch.no_grad():
        logits, labels, exact = real_steps(module.eval()(everything), everything.labels)
    probabilities = logits.softmax(-1).numpy()
    y, predicted = labels.numpy(), probabilities.argmax(1)
    expected = {
        "test/acc": accuracy_score(y, predicted),
        "test/precision": precision_score(y, predicted),
        "test/recall": recall_score(y, predicted),
        "test/f1": f1_score(y, predicted),
        "test/auroc": roc_auc_score(y, probabilities[:, 1]),
        "test/loss": log_loss(y, probabilities),
        "test/seq_exact": float(exact.mean()),
    }
    assert len(y) == int((everything.labels != IGNORE_LABEL).sum()) > 100
    for name, value in expected.items():
        assert metrics[name] == pytest.approx(value, abs=1e-5), name


def test_task_is_kept_in_the_checkpoint_and_eval_scores_the_same_steps(tag_checkpoint, tmp_path):
    path, metrics = tag_checkpoint
    result = run_cli(
        "seqlab.cli.evaluate", f"ckpt_path={path}", "logger=csv", f"hydra.run.dir={tmp_path}"
    )
    assert result.returncode == 0, result.stderr[-3000:]
    evaluated = json.loads((tmp_path / "metrics.json").read_text())
    assert {k: evaluated[k] for k in evaluated} == {k: metrics[k] for k in evaluated}
    assert "test/seq_exact" in evaluated


def test_predict_refuses_a_tag_checkpoint_in_one_line(tag_checkpoint, tmp_path, event_log):
    path, _ = tag_checkpoint
    result = run_cli(
        "seqlab.cli.predict", f"ckpt_path={path}", f"input={event_log}", f"hydra.run.dir={tmp_path}"
    )
    assert result.returncode == 2
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "task=tag checkpoint" in lines[0], result.stderr
    assert not list(tmp_path.glob("predictions*"))


# -- the config ----------------------------------------------------------------------------------


def test_classify_is_the_default_task_and_tag_composes():
    assert compose_train([])["task"]["name"] == "classify"
    tagged = compose_train(["experiment=cdnow_tag_gru"])
    assert (tagged["task"]["name"], tagged["task"]["causal"]) == ("tag", True)
    assert compose_train(["experiment=cdnow_tag_gru", "model=bigru", "task.causal=false"])


@pytest.mark.parametrize(
    ("overrides", "named"),
    [
        (["task=tag"], "task.name='tag' needs a label per time step"),
        (["experiment=cdnow_tag_gru", "model=mlp"], "use a recurrent model"),
        (["experiment=cdnow_tag_gru", "model=bilstm"], "task.causal=True"),
        (["experiment=cdnow_tag_gru", "model.bidirectional=true"], "bidirectional encoder"),
        (["data=cdnow", "task=tag", "model=gru"], "data.time_features=[gap,since_first]"),
        (["task.name=translate"], "task.name"),
    ],
)
def test_what_tag_cannot_do_is_refused_in_one_line(overrides, named):
    with pytest.raises(SeqlabError) as error:
        compose_train(overrides)
    message = str(error.value)
    assert named in message and message.startswith("config: ") and "\n" not in message


# -- baselines on the same steps -----------------------------------------------------------------


def test_baselines_read_one_row_per_labelled_step_of_the_same_sequences(event_log):
    module = build_datamodule(events_config(event_log, **TAG_DATA, max_length=4), "tag")
    module.setup("fit")
    parts = module.step_splits()
    for split, (features, labels) in parts.items():
        steps = module.splits[split].labels
        real = steps[steps != IGNORE_LABEL]
        assert len(features) == len(labels) == len(real)
        assert sorted(labels.tolist()) == sorted(real.tolist())
    # running aggregates: the count of events so far never exceeds the entity's events
    assert (parts["train"][0]["events"] >= 1).all()


@pytest.mark.slow
def test_compare_puts_tag_baselines_and_networks_in_one_table(event_log, tmp_path):
    from hydra import compose, initialize_config_dir

    from seqlab import config_dir
    from seqlab.config import CompareConfig, validate
    from seqlab.training.compare import compare

    with initialize_config_dir(config_dir=config_dir(), version_base="1.3"):
        cfg = compose(
            "compare",
            overrides=[
                "task=tag",
                "data.time_features=[gap,since_first]",
                "seeds=[1]",
                "models=[gru]",
                "baselines=[logreg,gboost]",
                "train.trainer.max_epochs=2",
                "logger=csv",
                f"paths.output_dir={tmp_path}",
            ],
        )
    config = validate(cfg, CompareConfig)
    config["data"] = events_config(event_log, **TAG_DATA, max_length=50)
    table = compare(config)
    assert list(table["model"]) == ["logreg", "gboost", "gru"]
    network = json.loads((tmp_path / "seed1" / "gru" / "metrics.json").read_text())
    assert "test/seq_exact" in network  # the network ran task=tag
    assert (tmp_path / "chart.png").read_bytes()[:4] == b"\x89PNG"
