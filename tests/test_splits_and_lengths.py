"""A TEST file whose series changed length, and classes too small to split: refused with one line
naming both lengths, or split with every class kept in the training part."""

import logging

import numpy as np
import pytest

from seqlab.data.splits import stratified_split
from seqlab.errors import SeqlabError

from conftest import fitted_datamodule, ucr_data

UCR2015_TRAIN = "".join(f"{-1 if i % 2 else 1},{i},{i + 1},{i + 2}\n" for i in range(10))


def write_bytes(path, text: str) -> None:
    path.write_bytes(text.encode("utf-8"))


# -- item 4: a TEST file whose series changed length ------------------------------------------


def test_a_test_file_of_another_length_is_refused_naming_both_lengths(tmp_path):
    write_bytes(tmp_path / "Toy_TRAIN", UCR2015_TRAIN)
    write_bytes(tmp_path / "Toy_TEST", "1,0,1\n-1,1,2\n")  # 2 values where TRAIN has 3
    with pytest.raises(SeqlabError) as error:
        fitted_datamodule(ucr_data(tmp_path))
    message = str(error.value)
    assert "Toy_TEST" in message and "length 2" in message and "length 3" in message
    assert "data.variable_length=true" in message


def test_a_longer_test_series_is_refused_too(tmp_path):
    write_bytes(tmp_path / "Toy_TRAIN", UCR2015_TRAIN)
    write_bytes(tmp_path / "Toy_TEST", "1,0,1,2,3\n-1,1,2,3,4\n")
    with pytest.raises(SeqlabError, match=r"Toy_TEST: series 1 has length 4"):
        fitted_datamodule(ucr_data(tmp_path))


def test_variable_length_is_accepted_when_asked_or_when_training_data_varies(tmp_path):
    write_bytes(tmp_path / "Toy_TRAIN", UCR2015_TRAIN)
    write_bytes(tmp_path / "Toy_TEST", "1,0,1\n-1,1,2\n")
    module = fitted_datamodule(ucr_data(tmp_path, variable_length=True))
    assert module.splits["test"].lengths.tolist() == [2, 2]
    # JapaneseVowels' own TRAIN varies in length, so its TEST may too
    assert fitted_datamodule({"kind": "ucr", "name": "JapaneseVowels"}).meta.num_features == 12


# -- item 8 (and 16): a class too small to split ----------------------------------------------


@pytest.mark.parametrize("seed", range(6))
def test_a_singleton_class_stays_in_training_and_the_rest_stays_stratified(seed, caplog):
    labels = np.array([0] * 10 + [1] * 10 + [2])
    with caplog.at_level(logging.WARNING):
        keep, held_out = stratified_split(labels, 0.2, seed, "data.val_fraction")
    assert 20 in keep
    assert np.bincount(labels[held_out], minlength=3).tolist() == [2, 2, 0]
    assert "class 2" in caplog.text and "training part" in caplog.text


def test_one_example_per_class_keeps_every_class_in_training(caplog):
    labels = np.array([0, 1, 2, 3, 3, 3, 3, 3])
    with caplog.at_level(logging.WARNING):
        keep, held_out = stratified_split(labels, 0.25, 0, "data.val_fraction")
    assert set(labels[keep]) == {0, 1, 2, 3}
    assert "classes 0, 1, 2" in caplog.text


def test_a_held_out_part_that_takes_a_whole_class_names_the_option():
    labels = np.array([0] * 20 + [1, 1])
    with pytest.raises(SeqlabError, match=r"data\.val_fraction=0\.9 .*class 1"):
        stratified_split(labels, 0.9, 0, "data.val_fraction")


def test_reuters_r52_splits_with_its_single_platinum_document(tmp_path, caplog):
    data = {"kind": "text", "embedded": "reuters-r52", "text_column": "Text"}
    data |= {"label_column": "Category", "cache_dir": None, "split_seed": 42, "max_length": 50}
    with caplog.at_level(logging.WARNING):
        module = fitted_datamodule(data)
    assert module.meta.num_classes == 52
    assert "platinum" in caplog.text and "training part" in caplog.text


@pytest.mark.slow
def test_seqlab_eval_refuses_a_test_file_whose_length_changed(tmp_path):
    from seqlab.training.pipeline import evaluate, train

    from conftest import compose_train, eval_config, quick_overrides

    root = tmp_path / "data"
    root.mkdir()
    write_bytes(root / "Toy_TRAIN", UCR2015_TRAIN)
    write_bytes(root / "Toy_TEST", "1,0,1,2\n-1,1,2,3\n")
    overrides = quick_overrides("model=mlp", "data.name=Toy", f"data.root={root}")
    train(compose_train([*overrides, "trainer.max_epochs=1"], output_dir=tmp_path / "run"))
    write_bytes(root / "Toy_TEST", "1,0,1\n-1,1,2\n")  # the file shrank by one step
    with pytest.raises(SeqlabError, match=r"series 1 has length 2 where every TRAIN series"):
        evaluate(eval_config(tmp_path / "run" / "checkpoints" / "last.ckpt", tmp_path / "eval"))
