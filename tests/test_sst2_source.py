"""data=sst2 on any machine: the local files when they are there (the shared datasets), else the
sentence-level copy on the Hugging Face hub, else one line saying that neither is reachable."""

import json
import logging
import time
from dataclasses import replace

import pytest

from seqlab.data.registry import build_datamodule
from seqlab.errors import SeqlabError

from conftest import REPO_ROOT, compose_train, corpus


def sst2(tmp_path, *overrides: str):
    data = compose_train(["data=sst2", f"paths.root_dir={REPO_ROOT}", *overrides]).data
    return replace(data, cache_dir=str(tmp_path / "cache"))


def setup(data):
    module = build_datamodule(data)
    module.setup("fit")
    return module


def test_the_shipped_config_names_the_hub_copy_with_the_standard_split():
    data = compose_train(["data=sst2"]).data
    assert data.hf_fallback == "SetFit/sst2"
    assert (data.text_column, data.label_column, data.positive_class) == (
        "text",
        "label",
        "1",
    )


def test_local_files_are_read_when_present(shared_datasets, tmp_path, caplog):
    with caplog.at_level(logging.WARNING):
        module = setup(sst2(tmp_path))
    sizes = {split: len(dataset) for split, dataset in module.splits.items()}
    assert sizes == {"train": 6920, "val": 872, "test": 1821}
    assert "hub" not in caplog.text


def test_absent_files_fall_back_to_the_hub_copy(tmp_path, restore_hub_switches, caplog):
    """A local folder stands in for the hub here (the datasets library loads both the same way)."""
    hub = tmp_path / "hub_copy"
    hub.mkdir()
    rows = corpus(60)
    for split, part in (("train", rows[:40]), ("validation", rows[40:50]), ("test", rows[50:])):
        records = [{"text": t, "label": int(label == "good")} for label, t in part]
        (hub / f"{split}.jsonl").write_text("\n".join(json.dumps(r) for r in records))
    data = sst2(tmp_path, f"data.root={tmp_path / 'absent'}", f"data.hf_fallback={hub}")
    with caplog.at_level(logging.WARNING):
        module = setup(replace(data, offline=True))
    assert {split: len(d) for split, d in module.splits.items()} == {
        "train": 40,
        "val": 10,
        "test": 10,
    }
    assert module.meta.class_names == ("0", "1")
    assert "stsa.binary.train is absent" in caplog.text and str(hub) in caplog.text


def test_neither_files_nor_hub_is_one_clear_line(tmp_path, restore_hub_switches, monkeypatch):
    # a closed local port: the hub probe is refused at once, as with no network
    monkeypatch.setattr("huggingface_hub.constants.ENDPOINT", "http://127.0.0.1:9")
    started = time.monotonic()
    with pytest.raises(SeqlabError) as error:
        setup(sst2(tmp_path, f"data.root={tmp_path / 'absent'}"))
    assert time.monotonic() - started < 20
    message = str(error.value)
    assert "\n" not in message
    assert "stsa.binary.train" in message and "SetFit/sst2" in message
    assert "neither" in message and "data.root" in message
