"""task=tag: per-step labels with censoring, masks, causality, metrics over the labelled steps
(equal to scikit-learn on the flattened steps), the config refusals, and the commands."""

import json
import logging
from pathlib import Path

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
from seqlab.data.registry import build_datamodule, data_config
from seqlab.errors import SeqlabError
from seqlab.models.modules import labelling, load_module
from seqlab.models.steps import real_steps, step_loss
from seqlab.models.tagger import SequenceTagger
from seqlab.training.pipeline import train

from conftest import (
    ONE_THREAD,
    OPTIM,
    compose_train,
    events_config,
    quick_overrides,
    run_cli,
    small_recurrent,
)

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


def test_steps_cut_off_by_max_length_are_counted_in_a_warning(event_log, caplog):
    module = build_datamodule(events_config(event_log, **TAG_DATA, max_length=2), "tag")
    with caplog.at_level(logging.WARNING, logger="seqlab.data.events.datamodule"):
        module.setup("fit")
    history = module.history.events
    labelled = int((history["tag"] != IGNORE_LABEL).sum())
    kept = sum(int((d.labels != IGNORE_LABEL).sum()) for d in module.splits.values())
    assert 0 < kept < labelled
    assert f"{labelled - kept} of {labelled} labelled steps" in caplog.text


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
    module = build_datamodule(config.data, "tag")
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
    module = build_datamodule(config.data, "tag")
    module.setup("fit")
    events = module.history.events
    remaining = events.groupby("code").cumcount(ascending=False)
    # clicks at the same timestamp are not "more" clicks, which almost never happens
    assert (events["tag"].to_numpy() == (remaining >= 3).to_numpy()).mean() > 0.999
    assert (events["tag"] != IGNORE_LABEL).all()


# -- the model -----------------------------------------------------------------------------------

META = {"num_features": 3, "num_classes": 2, "class_names": ["no", "yes"], "max_length": 9}
MODEL = small_recurrent(hidden_size=8, embedding_dim=4)


def tagger(cell: str, bidirectional: bool = False, layers: int = 2) -> SequenceTagger:
    torch.manual_seed(0)
    model = {**MODEL, "cell": cell, "bidirectional": bidirectional, "num_layers": layers}
    module = SequenceTagger(
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
    config.data = data_config(events_config(event_log, **TAG_DATA, max_length=50))
    return config


@pytest.fixture(scope="module")
def tag_log(tmp_path_factory) -> Path:
    from conftest import synthetic_events

    log = tmp_path_factory.mktemp("tag") / "events.csv"
    synthetic_events(entities=200).to_csv(log, index=False)
    return log


@pytest.fixture(scope="module")
def tag_checkpoint(tag_log):
    metrics = train(tag_run(tag_log, tag_log.parent / "run"))
    best = next(p for p in (tag_log.parent / "run" / "checkpoints").glob("epoch*.ckpt"))
    return best, metrics


@pytest.mark.slow
def test_step_metrics_equal_sklearn_on_the_flattened_real_steps(tag_checkpoint):
    path, metrics = tag_checkpoint
    module, _ = load_module(str(path), labelling)
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


# -- seqlab-predict and seqlab-eval input=<file> ----------------------------------------------


def new_log(seed: int, entities: int) -> pd.DataFrame:
    """A log the model never saw, its entities in reverse order of their ids (so that the order
    of first appearance is not the sorted one)."""
    from conftest import synthetic_events

    log = synthetic_events(entities=entities, seed=seed)
    return log.iloc[::-1].reset_index(drop=True)


@pytest.mark.slow
def test_predict_writes_a_row_per_step_with_the_metrics_of_eval(tag_checkpoint, tmp_path):
    from test_predict import TEST_KEYS, run_eval, run_predict

    path, _ = tag_checkpoint
    log = new_log(seed=5, entities=41)
    source = tmp_path / "new.csv"
    log.to_csv(source, index=False)
    evaluated = run_eval(path, source, tmp_path / "eval")
    predicted = run_predict(path, source, tmp_path / "predict")
    assert set(predicted) == TEST_KEYS | {"test/seq_exact"} and predicted == evaluated
    written = (tmp_path / "predict" / "metrics.json").read_text()
    assert json.loads(written) == json.loads((tmp_path / "eval" / "metrics.json").read_text())

    table = pd.read_csv(tmp_path / "predict" / "predictions.csv", keep_default_na=False)
    assert list(table.columns) == ["id", "step", "time", "predicted", "p_no", "p_yes", "label"]
    # every event once: entities in order of first appearance, each one's events in time order
    expected = tag_history(
        log_of(list(zip(log["customer"], log["ts"], strict=True))), TAG_DATA["step_label"], "D"
    )
    events = expected.events.assign(step=expected.events.groupby("entity").cumcount())
    first_seen = list(dict.fromkeys(log["customer"]))
    events = events.sort_values("entity", key=lambda e: e.map(first_seen.index), kind="stable")
    assert list(table["id"]) == list(events["entity"])
    assert list(table["step"]) == list(events["step"])
    assert list(pd.to_datetime(table["time"])) == list(events["time"])
    names = {IGNORE_LABEL: "", 0: "no", 1: "yes"}
    assert list(table["label"]) == [names[tag] for tag in events["tag"]]
    assert (events["tag"] == IGNORE_LABEL).any()  # censored steps: in the file, not scored

    scored = table[table["label"] != ""]
    right = scored["predicted"] == scored["label"]
    assert right.mean() == pytest.approx(predicted["test/acc"], abs=1e-6)  # float32
    auroc = roc_auc_score(scored["label"] == "yes", scored["p_yes"])
    assert auroc == pytest.approx(predicted["test/auroc"], abs=1e-6)
    exact = right.groupby(scored["id"]).all().mean()
    assert exact == pytest.approx(predicted["test/seq_exact"], abs=1e-6)
    np.testing.assert_allclose(table[["p_no", "p_yes"]].sum(axis=1), 1.0, atol=1e-6)


@pytest.mark.slow
def test_predictions_online_ignore_later_events_and_labels(tag_checkpoint, tmp_path, caplog):
    """A causal model's prediction at a step is the same whether or not the later events are in
    the file; without labels the probabilities are those of the labelled run."""
    from test_predict import run_predict

    path, _ = tag_checkpoint
    log = new_log(seed=6, entities=30)
    full, early = tmp_path / "full.csv", tmp_path / "early.csv"
    log.to_csv(full, index=False)
    log[pd.to_datetime(log["ts"]) < pd.Timestamp("2020-03-01")].to_csv(early, index=False)
    run_predict(path, full, tmp_path / "full")
    assert run_predict(path, early, tmp_path / "early", "output.format=parquet") != {}
    unlabelled = run_predict(path, full, tmp_path / "unlabelled", "reader.labels=false")
    assert unlabelled == {} and not (tmp_path / "unlabelled" / "metrics.json").exists()

    whole = pd.read_csv(tmp_path / "full" / "predictions.csv", keep_default_na=False)
    cut = pd.read_parquet(tmp_path / "early" / "predictions.parquet")
    both = cut.merge(whole, on=["id", "step"], suffixes=("", "_full"))
    assert len(both) == len(cut) < len(whole)
    np.testing.assert_allclose(both["p_yes"], both["p_yes_full"], atol=1e-6)
    assert (both["label"] != "").any()
    plain = pd.read_csv(tmp_path / "unlabelled" / "predictions.csv")
    assert "label" not in plain
    pd.testing.assert_frame_equal(plain, whole.drop(columns="label"))


@pytest.mark.slow
def test_steps_beyond_max_length_are_left_out_with_a_count(tag_checkpoint, tmp_path, caplog):
    from test_predict import run_predict

    path, _ = tag_checkpoint  # trained with data.max_length=50
    log = new_log(seed=7, entities=5)
    days = pd.date_range("2020-01-01 10:00", periods=60, freq="D").strftime("%Y-%m-%d %H:%M:%S")
    busy = pd.DataFrame({"customer": "busy", "ts": days, "event": "buy", "item": "i1", "amount": 5})
    source = tmp_path / "busy.csv"
    pd.concat([log, busy]).to_csv(source, index=False)
    caplog.set_level(logging.WARNING, logger="seqlab")
    run_predict(path, source, tmp_path / "out")
    assert (
        "10 of " in caplog.text and "data.max_length=50 events and get no prediction" in caplog.text
    )
    table = pd.read_csv(tmp_path / "out" / "predictions.csv", keep_default_na=False)
    assert list(table.loc[table["id"] == "busy", "step"]) == list(range(10, 60))
    assert len(table) == len(log) + 50


def test_an_input_with_every_step_censored_cannot_be_labelled_one_line(tag_checkpoint, tmp_path):
    path, _ = tag_checkpoint
    late = new_log(seed=8, entities=10)
    late = late[pd.to_datetime(late["ts"]) >= pd.Timestamp("2020-06-01")]
    source = tmp_path / "late.csv"
    late.to_csv(source, index=False)
    result = run_cli(
        "seqlab.cli.predict",
        f"ckpt_path={path}",
        f"input={source}",
        "reader.labels=true",
        f"hydra.run.dir={tmp_path / 'out'}",
    )
    assert result.returncode == 2
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "every event is censored" in lines[0], result.stderr
    assert "reader.labels=false" in lines[0]
    assert not list((tmp_path / "out").glob("predictions*"))
    assert not (tmp_path / "out" / "metrics.json").exists()


@pytest.mark.slow
@pytest.mark.ddp
@pytest.mark.parametrize("labelled", [True, False])
def test_two_processes_write_the_same_step_rows_as_one(tag_checkpoint, tmp_path, labelled):
    path, _ = tag_checkpoint
    source = tmp_path / "odd.csv"
    new_log(seed=9, entities=23).to_csv(source, index=False)  # 23 sequences in batches of 4
    outputs = {}
    for name, extra in (("single", []), ("ddp", ["trainer=ddp_cpu"])):
        run_dir = tmp_path / name
        result = run_cli(
            "seqlab.cli.predict",
            f"ckpt_path={path}",
            f"input={source}",
            "batch_size=4",
            f"reader.labels={str(labelled).lower()}",
            f"hydra.run.dir={run_dir}",
            *extra,
            env=ONE_THREAD,
        )
        assert result.returncode == 0, result.stderr[-3000:]
        metrics = (run_dir / "metrics.json").read_bytes() if labelled else b""
        outputs[name] = ((run_dir / "predictions.csv").read_bytes(), metrics)
        assert (run_dir / "metrics.json").exists() == labelled
    assert outputs["ddp"] == outputs["single"]
    assert len(outputs["single"][0].splitlines()) > 24  # a row per step, not per sequence


def test_export_refuses_a_tag_checkpoint_in_one_line(tag_checkpoint, tmp_path):
    path, _ = tag_checkpoint
    result = run_cli(
        "seqlab.cli.export", f"ckpt_path={path}", "format=onnx", f"hydra.run.dir={tmp_path}"
    )
    assert result.returncode == 2
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "not built yet, use format=ckpt" in lines[0], result.stderr
    assert not list(tmp_path.glob("model.*"))


# -- the config ----------------------------------------------------------------------------------


def test_classify_is_the_default_task_and_tag_composes():
    assert compose_train([]).task.name == "classify"
    tagged = compose_train(["experiment=cdnow_tag_gru"])
    assert (tagged.task.name, tagged.task.causal) == ("tag", True)
    assert compose_train(["experiment=cdnow_tag_gru", "model=bigru", "task.causal=false"])


@pytest.mark.parametrize(
    ("overrides", "named"),
    [
        (["task=tag"], "task.name='tag' needs a label per time step"),
        (["experiment=cdnow_tag_gru", "model=mlp"], "use a recurrent model"),
        (["experiment=cdnow_tag_gru", "model=bilstm"], "task.causal=True"),
        (["experiment=cdnow_tag_gru", "model.bidirectional=true"], "bidirectional encoder"),
        (["data=cdnow", "task=tag", "model=gru"], "data.time_features=[gap,since_first]"),
        (["experiment=cdnow_tag_gru", "model.chunk=2"], "use model.chunk=1"),
        (["experiment=cdnow_tag_gru", "ensemble.seeds=[1,2]"], "task=tag has not got"),
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
    config.data = data_config(events_config(event_log, **TAG_DATA, max_length=50))
    table = compare(config)
    assert list(table["model"]) == ["logreg", "gboost", "gru"]
    network = json.loads((tmp_path / "seed1" / "gru" / "metrics.json").read_text())
    assert "test/seq_exact" in network  # the network ran task=tag
    assert (tmp_path / "chart.png").read_bytes()[:4] == b"\x89PNG"
