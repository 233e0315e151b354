"""Folders that belong to the machine that runs, not to the checkpoint: the cache and data.root."""

import logging

from seqlab.config import LocalDataConfig
from seqlab.data.cache import cache_folder


def test_auto_is_the_users_cache_folder_of_this_machine(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_folder("auto") == tmp_path / "xdg" / "seqlab"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert cache_folder("auto") == tmp_path / "home" / ".cache" / "seqlab"
    assert cache_folder(None) is None


def test_a_cache_that_cannot_be_written_is_skipped_with_a_warning(tmp_path, caplog):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    with caplog.at_level(logging.WARNING):
        assert cache_folder(str(blocker / "cache")) is None
    assert "cannot be written" in caplog.text and "going on without a cache" in caplog.text


def test_eval_and_predict_replace_the_checkpoints_folders():
    stored = {"kind": "text", "root": "/old/data", "cache_dir": "relative/.cache"}
    assert LocalDataConfig().apply(stored) == {**stored, "cache_dir": "auto"}
    moved = LocalDataConfig(root="/new/data", cache_dir=None).apply(stored)
    assert moved == {"kind": "text", "root": "/new/data", "cache_dir": None}
    assert LocalDataConfig().apply({"kind": "ucr", "root": None}) == {"kind": "ucr", "root": None}
