"""The UCR data module: both file formats, label mapping, splits, normalisation, bad input."""

import numpy as np
import pytest
import torch

from seqlab.data.registry import build_datamodule
from seqlab.data.ucr.datamodule import UCRDataModule
from seqlab.errors import SeqlabError


def datamodule(name="GunPoint", root=None, **options) -> UCRDataModule:
    """A set-up data module; the fixed validation split (protocol=val_split) unless told."""
    root = None if root is None else str(root)
    options.setdefault("protocol", "val_split")
    module = build_datamodule({"kind": "ucr", "name": name, "root": root, **options})
    module.setup("fit")
    return module


def test_embedded_gunpoint_has_the_published_shape():
    module = datamodule()
    sizes = {split: len(module.splits[split]) for split in ("train", "val", "test")}
    assert sizes == {"train": 40, "val": 10, "test": 150}
    assert module.meta.num_features == 1
    assert module.meta.max_length == 150
    assert module.meta.class_names == ("1", "2")


def test_validation_split_is_stratified_and_seeded():
    a, b, c = datamodule(split_seed=1), datamodule(split_seed=1), datamodule(split_seed=2)
    assert torch.equal(a.splits["val"].inputs, b.splits["val"].inputs)
    assert not torch.equal(a.splits["val"].inputs, c.splits["val"].inputs)
    assert torch.bincount(a.splits["val"].labels).tolist() == [5, 5]


def test_normalisation_is_fitted_on_the_training_part_only():
    module = datamodule()
    train = module.splits["train"].inputs
    assert abs(float(train.mean())) < 1e-5
    assert abs(float(train.std(unbiased=False)) - 1.0) < 1e-4
    # validation and test are transformed with the training part's statistics
    raw = datamodule(normalize="none")
    mean = raw.splits["train"].inputs.mean()
    std = raw.splits["train"].inputs.std(unbiased=False)
    for split in ("val", "test"):
        expected = (raw.splits[split].inputs - mean) / std
        assert torch.allclose(module.splits[split].inputs, expected, atol=1e-5)


def test_test_data_never_influences_training_tensors(tmp_path, write_ucr):
    train_rows = [f"{1 + i % 2} " + " ".join(str(i + t) for t in range(5)) for i in range(20)]
    first = datamodule("Toy", write_ucr(train_rows, ["1 0 0 0 0 0", "2 9 9 9 9 9"]))
    second = datamodule("Toy", write_ucr(train_rows, ["1 50 50 50 50 50", "2 -9 9 -9 9 -9"]))
    assert torch.equal(first.splits["train"].inputs, second.splits["train"].inputs)
    assert torch.equal(first.splits["val"].inputs, second.splits["val"].inputs)


def test_ucr2015_files_from_the_shared_folder(shared_datasets):
    module = datamodule("Gun_Point", shared_datasets / "ucr2015")
    embedded = datamodule("GunPoint")
    # the 2015 files label GunPoint {-1, 1}, the .ts files {1, 2}: same classes in the same order
    assert module.meta.class_names == ("-1", "1")
    assert module.meta.max_length == embedded.meta.max_length == 150
    assert torch.equal(module.splits["test"].labels, embedded.splits["test"].labels)
    # the same series in both formats (the text files keep 5 decimals)
    assert torch.allclose(module.splits["test"].inputs, embedded.splits["test"].inputs, atol=1e-3)


def test_minus_one_plus_one_labels_map_to_zero_one(shared_datasets):
    module = datamodule("ItalyPowerDemand", shared_datasets / "ucr2015")
    assert module.meta.class_names == ("-1", "1")
    assert set(module.splits["test"].labels.tolist()) == {0, 1}


def test_string_labels_and_multivariate_series():
    module = datamodule("BasicMotions")
    assert module.meta.num_features == 6
    assert set(module.meta.class_names) == {"Standing", "Running", "Walking", "Badminton"}
    assert module.splits["train"].inputs.shape[-1] == 6


def test_variable_length_multivariate_series():
    module = datamodule("JapaneseVowels")
    assert module.meta.num_features == 12
    lengths = torch.cat([module.splits[s].lengths for s in ("train", "val", "test")])
    assert lengths.min() < lengths.max() == module.meta.max_length
    dataset = module.splits["train"]
    short = int(torch.argmin(dataset.lengths))
    padded_tail = dataset.inputs[short, dataset.lengths[short] :]
    assert torch.count_nonzero(padded_tail) == 0  # padding stays zero after normalisation


def test_numeric_labels_sort_numerically(write_ucr):
    rows = [f"{label} 1 2 3" for label in (10, 2, 10, 2, 10, 2, 10, 2, 10, 2)]
    module = datamodule("Toy", write_ucr(rows, ["2 1 2 3"]))
    assert module.meta.class_names == ("2", "10")


def test_batches_are_trimmed_to_their_longest_sequence():
    module = datamodule("JapaneseVowels", batch_size=4)
    batch = next(iter(module.val_dataloader()))
    assert batch.inputs.shape[1] == int(batch.lengths.max())
    assert batch.inputs.shape[0] == batch.lengths.shape[0] == batch.labels.shape[0] == 4


@pytest.mark.parametrize(
    ("train_rows", "test_rows", "message"),
    [
        (["1 1 2 3", "2 1 2", "1 1 2 3"], ["1 1 2 3"], r"Toy_TRAIN:2: ragged row of 2 values"),
        (["1 1 NaN 3", "2 1 2 3"], ["1 1 2 3"], r"Toy_TRAIN:1: NaN"),
        (["1 1 ? 3", "2 1 2 3"], ["1 1 2 3"], r"Toy_TRAIN:1: '\?' is not a number"),
        (["1 1 2 3", "1 4 5 6"], ["1 1 2 3"], r"Toy_TRAIN: only one class"),
        (["1 1 2 3", "2 4 5 6"] * 3, ["3 1 2 3"], r"Toy_TEST: label\(s\) \['3'\] never appear"),
    ],
)
def test_bad_files_fail_with_one_line_naming_the_file(write_ucr, train_rows, test_rows, message):
    root = write_ucr(train_rows, test_rows)
    with pytest.raises(SeqlabError, match=message) as error:
        datamodule("Toy", root)
    assert "\n" not in str(error.value)


def test_missing_dataset_names_where_it_looked(tmp_path):
    with pytest.raises(SeqlabError, match=r"no TRAIN file for UCR dataset 'Nope'.*data\.root"):
        datamodule("Nope", tmp_path)


def test_missing_test_file_is_named(write_ucr):
    root = write_ucr(["1 1 2", "2 3 4"], ["1 1 2"])
    (root / "Toy_TEST").unlink()
    with pytest.raises(SeqlabError, match=r"Toy_TEST: file not found"):
        datamodule("Toy", root)


def test_unknown_embedded_dataset_lists_the_embedded_ones():
    with pytest.raises(
        SeqlabError, match=r"'GunPointy' is not among the embedded ones \(.*GunPoint"
    ):
        datamodule("GunPointy")


def test_ragged_row_in_an_equal_length_ts_file(tmp_path):
    header = "@problemName Toy\n@univariate true\n@equalLength true\n@classLabel true a b\n@data\n"
    (tmp_path / "Toy_TRAIN.ts").write_text(header + "1,2,3:a\n1,2:b\n")
    (tmp_path / "Toy_TEST.ts").write_text(header + "1,2,3:a\n")
    with pytest.raises(SeqlabError, match=r"Toy_TRAIN.ts:7: ragged row of 2 values"):
        datamodule("Toy", tmp_path)


def test_ts_reader_matches_a_hand_written_file(tmp_path):
    header = "# comment\n@problemName Toy\n@univariate false\n@dimensions 2\n@equalLength false\n"
    header += "@classLabel true x y\n@data\n"
    (tmp_path / "Toy_TRAIN.ts").write_text(header + "1,2,3:4,5,6:x\n7,8:9,10:y\n" * 3)
    (tmp_path / "Toy_TEST.ts").write_text(header + "1,2:3,4:y\n")
    module = datamodule("Toy", tmp_path, normalize="none", val_fraction=0.34)
    test = module.splits["test"]
    assert test.lengths.tolist() == [2]
    assert test.inputs[0, :2].tolist() == [[1.0, 3.0], [2.0, 4.0]]
    assert module.meta.class_names == ("x", "y")
    assert np.isclose(module.meta.max_length, 3)


@pytest.mark.parametrize("series, batches", [(40, 1), (41, 3)])
def test_a_training_part_up_to_full_batch_up_to_is_one_batch(write_ucr, series, batches):
    """data.full_batch_up_to=40: 40 training series are one batch; 41 are cut by batch_size."""
    rows = [f"{i % 2 + 1} {i} {i + 1} {i + 2}" for i in range(series)]
    module = datamodule(
        "Toy",
        write_ucr(rows, ["1 0 0 0", "2 9 9 9"]),
        protocol="train_loss",
        batch_size=16,
        full_batch_up_to=40,
    )
    sizes = [len(batch.labels) for batch in module.train_dataloader()]
    assert len(sizes) == batches and sum(sizes) == series


def test_full_batch_up_to_below_zero_is_refused():
    with pytest.raises(SeqlabError, match="data.full_batch_up_to"):
        datamodule(full_batch_up_to=-1)
