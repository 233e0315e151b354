"""The event-log data module: checks on load, cutoff and labels, no leakage, entity splits,
ordering and truncation, rare/unseen bucketing, scaling on the training part."""

import logging

import numpy as np
import pandas as pd
import pytest
import torch

from seqlab.data.batch import PAD_ID
from seqlab.data.events.categories import UNKNOWN_ID
from seqlab.data.events.datamodule import EventDataModule
from seqlab.data.events.log import CDNOW_PACKAGE
from seqlab.data.registry import build_datamodule
from seqlab.errors import SeqlabError

from conftest import events_config, synthetic_events

CUTOFF = pd.Timestamp("2020-04-01")


def datamodule(path, **changes) -> EventDataModule:
    module = build_datamodule(events_config(path, **changes))
    module.setup("fit")
    return module


def write(frame: pd.DataFrame, path) -> str:
    frame.to_csv(path, index=False)
    return str(path)


def tensors(module: EventDataModule) -> dict[str, torch.Tensor]:
    return {
        f"{split}.{name}": getattr(dataset, name)
        for split, dataset in module.splits.items()
        for name in ("inputs", "categories", "lengths", "labels")
    }


def entity_split(module: EventDataModule) -> dict[str, set]:
    return {
        split: set(module.history.entities[codes]) for split, codes in module.entity_splits.items()
    }


def test_embedded_cdnow_repurchase_task():
    module = build_datamodule(
        events_config(
            None,
            name="cdnow",
            columns={
                "entity": "customer_id",
                "time": "date",
                "categorical": [],
                "numeric": ["number_of_cds", "dollar_value"],
            },
            time_format="%Y%m%d",
            duplicates="keep",
            cutoff={"time": "1997-10-01", "events": None},
            label={"min_events": 1, "window": "273D"},
            max_length=50,
        )
    )
    module.setup("fit")
    assert len(module.history.entities) == 23_570  # every customer bought in weeks 1-13
    assert 0.29 < module.history.labels.mean() < 0.31  # about 30% buy again in weeks 40-78
    assert sum(len(d) for d in module.splits.values()) == 23_570
    assert module.meta.num_features == 4  # n_cds, dollars, gap, age
    assert module.meta.category_sizes == ()


def test_missing_lifetimes_names_the_install_command(no_embedded_packages):
    with pytest.raises(SeqlabError, match=rf"make install .*{CDNOW_PACKAGE}==0.11.3"):
        datamodule(None)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda f: f.drop(columns=["amount"]), r"column\(s\) \['amount'\] not found"),
        (lambda f: f.assign(ts=f["ts"].where(f.index != 5, "soon")), r"'soon' at data row 6"),
        (lambda f: f.assign(amount=f["amount"].where(f.index != 7, np.nan)), r"'amount'.*row 8"),
        (lambda f: f.assign(amount=f["amount"].astype(object).where(f.index != 3, "n/a")), "n/a"),
        (lambda f: pd.concat([f, f.iloc[[4]]], ignore_index=True), r"1 duplicate row\(s\)"),
        (lambda f: f.assign(customer=f["customer"].where(f.index != 2, "")), r"no 'customer'"),
    ],
    ids=["missing-column", "bad-timestamp", "nan-numeric", "text-numeric", "duplicate", "no-id"],
)
def test_bad_event_logs_fail_with_one_line(tmp_path, change, message):
    path = write(change(synthetic_events()), tmp_path / "bad.csv")
    with pytest.raises(SeqlabError, match=message) as error:
        datamodule(path)
    assert "\n" not in str(error.value)
    assert "bad.csv" in str(error.value)


def test_duplicate_rows_are_dropped_or_kept_with_a_logged_count(tmp_path, caplog):
    frame = synthetic_events()
    repeated = frame[frame["ts"] < "2020-04-01"].iloc[:3]  # three history events, twice
    path = write(pd.concat([frame, repeated], ignore_index=True), tmp_path / "d.csv")
    with caplog.at_level(logging.WARNING):
        dropped = datamodule(path, duplicates="drop")
        kept = datamodule(path, duplicates="keep")
    assert "dropped 3 duplicate row(s)" in caplog.text
    assert "kept 3 duplicate row(s)" in caplog.text
    assert len(kept.history.events) == len(dropped.history.events) + 3


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"cutoff": {"time": "2020-04-01", "events": 3}}, r"exactly one of time"),
        ({"cutoff": {"time": "someday", "events": None}}, r"cutoff.time='someday'"),
        ({"label": {"min_events": 1, "window": "soon"}}, r"label.window='soon'"),
        ({"cutoff": {"time": "2030-01-01", "events": None}}, r"has label 'active'|every entity"),
        ({"test_fraction": 0.9}, r"sum to less than 1"),
    ],
)
def test_bad_cutoff_label_and_split_settings(event_log, changes, message):
    with pytest.raises(SeqlabError, match=message):
        datamodule(event_log, **changes)


def test_labels_count_events_after_the_cutoff_within_the_window(tmp_path):
    rows = [
        ("a", "2020-03-01", 1.0),
        ("a", "2020-04-10", 1.0),  # after the cutoff, in a 30-day window
        ("b", "2020-03-02", 1.0),
        ("b", "2020-06-01", 1.0),  # after the cutoff, outside the window
        ("c", "2020-03-03", 1.0),
        ("d", "2020-05-01", 1.0),  # no history: left out
    ]
    frame = pd.DataFrame(rows, columns=["customer", "ts", "amount"])
    config = events_config(tmp_path / "l.csv", label={"min_events": 1, "window": "30D"})
    config["columns"] = {**config["columns"], "categorical": []}
    write(frame, tmp_path / "l.csv")
    history = build_datamodule(config).history
    assert list(history.entities) == ["a", "b", "c"]
    assert history.labels.tolist() == [1, 0, 0]
    assert (history.events["time"] < CUTOFF).all()


def perturb_after_cutoff(frame: pd.DataFrame, seed: int) -> pd.DataFrame:
    """Change every event after the cutoff (item, type, amount, time: still after the cutoff),
    and put those rows at random places in the file, keeping the history rows' order."""
    rng = np.random.default_rng(seed)
    after = pd.to_datetime(frame["ts"]) >= CUTOFF
    changed = frame.copy()
    changed.loc[after, "item"] = rng.choice(["zz1", "i0", "i3"], size=after.sum())
    changed.loc[after, "event"] = "refund"
    changed.loc[after, "amount"] = rng.uniform(0, 1e4, size=after.sum()).round(2)
    shifted = pd.to_datetime(frame.loc[after, "ts"]) + pd.to_timedelta(
        rng.integers(0, 30, size=after.sum()), unit="D"
    )
    changed.loc[after, "ts"] = shifted.dt.strftime("%Y-%m-%d %H:%M:%S")
    order = np.argsort(np.where(after, rng.uniform(0, len(frame), len(frame)), frame.index))
    return changed.iloc[order].reset_index(drop=True)


@pytest.mark.parametrize("cutoff", ["time", "events"])
def test_no_leakage_events_after_the_cutoff_never_reach_the_features(tmp_path, cutoff):
    frame = synthetic_events()
    changes = {} if cutoff == "time" else {"cutoff": {"time": None, "events": 3}}
    if cutoff == "events":
        # each customer's first 3 events lie before 2020-04-01 and the rest after it, so "after
        # the cutoff" means the same rows for both kinds of cutoff
        frame = frame[frame.groupby("customer")["ts"].transform("size") >= 3]
        frame = frame.assign(ts=frame.groupby("customer")["ts"].transform(_history_first))
    original = datamodule(write(frame, tmp_path / "a.csv"), **changes)
    changed = datamodule(write(perturb_after_cutoff(frame, 1), tmp_path / "b.csv"), **changes)
    assert original.history.labels.mean() not in (0.0, 1.0)
    before, after = tensors(original), tensors(changed)
    assert before.keys() == after.keys()
    for name in before:
        assert torch.equal(before[name], after[name]), name
    for split, (features, labels) in original.aggregate_splits().items():
        other_features, other_labels = changed.aggregate_splits()[split]
        pd.testing.assert_frame_equal(features, other_features)
        assert np.array_equal(labels, other_labels)


def _history_first(times: pd.Series) -> pd.Series:
    """Per customer: the first 3 times before 2020-04-01, the rest after it (all distinct)."""
    start = pd.Timestamp("2020-01-01")
    stamps = [start + pd.Timedelta(days=10 * i + 1) for i in range(3)]
    stamps += [CUTOFF + pd.Timedelta(days=5 * i + 1) for i in range(len(times) - 3)]
    return pd.Series([s.strftime("%Y-%m-%d %H:%M:%S") for s in stamps], index=times.index)


def test_splits_are_entity_disjoint_seeded_and_stratified(event_log):
    a, b, c = datamodule(event_log), datamodule(event_log), datamodule(event_log, split_seed=3)
    parts = entity_split(a)
    assert not parts["train"] & parts["val"] and not parts["train"] & parts["test"]
    assert not parts["val"] & parts["test"]
    assert set().union(*parts.values()) == set(a.history.entities)
    assert parts == entity_split(b)
    assert parts != entity_split(c)
    rate = a.history.labels.mean()
    for dataset in a.splits.values():
        assert abs(float(dataset.labels.float().mean()) - rate) < 0.07


def test_sequences_keep_the_most_recent_events_in_time_order(tmp_path):
    # One customer with 6 events written in shuffled order; amounts 1..6 follow time.
    days = [5, 1, 4, 2, 6, 3]
    rows = [("a", f"2020-01-0{d}", float(d), "view", "i1") for d in days]
    rows += [(f"o{i}", "2020-01-02", 1.0, "view", "i1") for i in range(8)]
    rows += [(f"o{i}", "2020-05-02", 1.0, "view", "i1") for i in range(4)]
    rows += [("a", "2020-05-01", 1.0, "view", "i1")]
    frame = pd.DataFrame(rows, columns=["customer", "ts", "amount", "event", "item"])
    module = datamodule(
        write(frame, tmp_path / "o.csv"),
        max_length=3,
        numeric_transform="none",
        time_features=[],
        val_fraction=0.25,
        test_fraction=0.25,
    )
    code = int(np.searchsorted(module.history.entities, "a"))
    split = next(s for s, codes in module.entity_splits.items() if code in codes)
    row = int(np.flatnonzero(module.entity_splits[split] == code)[0])
    dataset = module.splits[split]
    assert int(dataset.lengths[row]) == 3
    amounts = dataset.inputs[row, :3, 0]
    # scaled with one positive factor: still 4, 5, 6 up to an affine map
    assert torch.all(amounts[1:] > amounts[:-1])
    assert torch.allclose(amounts[2] - amounts[1], amounts[1] - amounts[0])
    assert torch.count_nonzero(dataset.inputs[row, 3:]) == 0


def test_rare_and_unseen_values_share_the_unknown_id(tmp_path):
    frame = synthetic_events()
    module = datamodule(write(frame, tmp_path / "r.csv"), min_count=2)
    train_codes = module.entity_splits["train"]
    events = module.history.events
    in_train = events["code"].isin(train_codes)
    counts = events.loc[in_train, "item"].value_counts()
    rare_or_unseen = set(events["item"]) - set(counts.index[counts >= 2])
    item_column = module.meta.category_names.index("item")
    assert module.meta.category_sizes[item_column] == (counts >= 2).sum() + 2
    for split, dataset in module.splits.items():
        codes = module.entity_splits[split]
        for row in range(0, len(codes), 7):
            length = int(dataset.lengths[row])
            ids = dataset.categories[row, :length, item_column]
            items = events.loc[events["code"] == codes[row], "item"].to_numpy()[-length:]
            expected = [UNKNOWN_ID if item in rare_or_unseen else 2 for item in items]
            assert [UNKNOWN_ID if i == UNKNOWN_ID else 2 for i in ids.tolist()] == expected
            assert (dataset.categories[row, length:] == PAD_ID).all()
    # one value seen only outside the training part
    frame.loc[
        frame["customer"] == module.history.entities[module.entity_splits["test"][0]], "item"
    ] = "new"
    changed = datamodule(write(frame, tmp_path / "r2.csv"), min_count=2)
    first_test = changed.splits["test"]
    length = int(first_test.lengths[0])
    assert (first_test.categories[0, :length, item_column] == UNKNOWN_ID).all()


def test_numeric_scaling_is_fitted_on_training_entities_only(tmp_path):
    frame = synthetic_events()
    module = datamodule(write(frame, tmp_path / "s.csv"))
    train = module.splits["train"]
    mask = torch.arange(train.inputs.shape[1])[None, :] < train.lengths[:, None]
    real = train.inputs[mask]
    assert torch.allclose(real.mean(0), torch.zeros(real.shape[1]), atol=1e-5)
    assert torch.allclose(real.std(0, unbiased=False), torch.ones(real.shape[1]), atol=1e-4)
    # huge amounts for one test entity leave the training tensors as they were
    test_entity = module.history.entities[module.entity_splits["test"][0]]
    frame.loc[frame["customer"] == test_entity, "amount"] = 1e6
    changed = datamodule(write(frame, tmp_path / "s2.csv"))
    assert torch.equal(changed.splits["train"].inputs, train.inputs)
    assert not torch.equal(changed.splits["test"].inputs, module.splits["test"].inputs)


def test_per_entity_cutoff_uses_the_first_k_events(tmp_path, shared_datasets):
    path = shared_datasets / "events/yoochoose100k/yoochoose-clicks-100k_train_full.txt"
    module = datamodule(
        path,
        format="tsv",
        columns={"entity": "SessionId", "time": "Time", "categorical": ["ItemId"], "numeric": []},
        time_format="unix",
        time_unit="s",
        duplicates="drop",
        cutoff={"time": None, "events": 3},
        label={"min_events": 2, "window": None},
        max_length=3,
    )
    sizes = pd.read_csv(path, sep="\t").drop_duplicates().groupby("SessionId").size()
    assert len(module.history.entities) == (sizes >= 3).sum()
    expected = (sizes[sizes >= 3] > 4).astype(int)
    assert (
        module.history.labels.tolist() == expected.sort_index(key=lambda s: s.astype(str)).tolist()
    )
    assert all(int(d.lengths.min()) == int(d.lengths.max()) == 3 for d in module.splits.values())


def test_padding_back_to_back_sequences_equals_padding_each():
    from seqlab.data.padding import pad_flat, pad_sequences

    rng = np.random.default_rng(0)
    series = [rng.normal(size=(n, 3)) for n in (4, 1, 7, 2)]
    padded, lengths = pad_sequences(series, 8)
    assert lengths.tolist() == [4, 1, 7, 2]
    for row, values in enumerate(series):
        assert torch.allclose(padded[row, : len(values)], torch.from_numpy(values).float())
        assert torch.count_nonzero(padded[row, len(values) :]) == 0
    ids, _ = pad_flat(np.arange(1, 15)[:, None], lengths.numpy(), 8, dtype=np.int64)
    assert ids.dtype == torch.int64
    assert ids[2, :, 0].tolist() == [6, 7, 8, 9, 10, 11, 12, 0]
