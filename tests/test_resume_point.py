"""Which run and which checkpoint `ckpt_path=last` / `resume=...` continue (no training)."""

import os
from pathlib import Path

import pytest
import torch

from seqlab.errors import SeqlabError
from seqlab.training.resume import resume_point


def run(folder: Path, age_s: float, finished: bool = False) -> Path:
    """A run dir with a loadable last.ckpt written `age_s` seconds ago."""
    last = folder / "checkpoints" / "last.ckpt"
    last.parent.mkdir(parents=True)
    torch.save({"state_dict": {}, "loops": {}}, last)
    moment = last.stat().st_mtime - age_s
    os.utime(last, (moment, moment))
    if finished:
        (folder / "metrics.json").write_text("{}\n")
    return folder


def test_a_run_dir_that_holds_last_ckpt_is_the_run_resumed(tmp_path):
    cut = run(tmp_path / "cut", age_s=100)
    run(tmp_path / "full", age_s=10, finished=True)
    point = resume_point(cut, "last", None)
    assert point.run_dir == cut and point.continued
    assert point.ckpt_path == str(cut / "checkpoints" / "last.ckpt")


def test_a_fresh_run_dir_never_continues_a_finished_sibling(tmp_path):
    unfinished = run(tmp_path / "old", age_s=100)
    run(tmp_path / "newer_but_finished", age_s=10, finished=True)
    for ckpt_path, resume in (("last", None), (None, "auto")):
        assert resume_point(tmp_path / "fresh", ckpt_path, resume).run_dir == unfinished


def test_only_finished_siblings_leave_nothing_to_resume(tmp_path):
    run(tmp_path / "done", age_s=10, finished=True)
    with pytest.raises(SeqlabError, match="nothing to resume"):
        resume_point(tmp_path / "fresh", "last", None)
    # resume=auto starts the run afresh instead, so a requeued command can always carry it
    point = resume_point(tmp_path / "fresh", None, "auto")
    assert point.run_dir == tmp_path / "fresh" and point.ckpt_path is None
    assert not point.continued


def test_a_finished_run_is_continued_when_named_by_path(tmp_path):
    done = run(tmp_path / "done", age_s=10, finished=True)
    assert resume_point(tmp_path / "fresh", None, str(done)).run_dir == done


def test_the_newest_checkpoint_that_loads_is_resumed_and_the_others_named(tmp_path):
    cut = run(tmp_path / "cut", age_s=100)
    good = cut / "checkpoints" / "epoch001.ckpt"
    torch.save({"state_dict": {}, "loops": {}}, good)
    os.utime(good, (good.stat().st_mtime - 50,) * 2)
    (cut / "checkpoints" / "last.ckpt").write_bytes(b"")  # a kill during the copy, now newest
    foreign = cut / "checkpoints" / "epoch002.ckpt"
    torch.save({"weights": torch.zeros(2)}, foreign)
    os.utime(foreign, (foreign.stat().st_mtime - 20,) * 2)
    point = resume_point(cut, "last", None)
    assert point.ckpt_path == str(good)
    assert len(point.skipped) == 2
    assert point.skipped[0].startswith(f"{cut / 'checkpoints' / 'last.ckpt'}: does not load")
    assert point.skipped[1].startswith(f"{foreign}: not a training checkpoint")


def test_a_run_dir_whose_checkpoints_all_fail_to_load_says_so(tmp_path):
    cut = run(tmp_path / "cut", age_s=1)
    (cut / "checkpoints" / "last.ckpt").write_bytes(b"PK\x03\x04 truncated")
    with pytest.raises(SeqlabError, match="no checkpoint in it loads"):
        resume_point(cut, "last", None)


def test_a_best_checkpoint_is_never_a_resume_point(tmp_path):
    """Weights only (no loops): a newer best file is skipped with the reason, and last.ckpt
    resumed."""
    cut = run(tmp_path / "cut", age_s=100)
    best = cut / "checkpoints" / "epoch003.ckpt"
    torch.save({"state_dict": {}, "hyper_parameters": {}, "epoch": 3}, best)
    point = resume_point(cut, "last", None)
    assert point.ckpt_path == str(cut / "checkpoints" / "last.ckpt")
    assert point.skipped == (
        f"{best}: a best checkpoint (weights only), not a resume point; last.ckpt is",
    )


def test_training_from_a_best_checkpoint_is_refused_naming_last(tmp_path):
    best = tmp_path / "run" / "checkpoints" / "epoch003.ckpt"
    best.parent.mkdir(parents=True)
    sections = {name: {} for name in ("model", "meta", "optim", "metrics", "data")}
    torch.save({"state_dict": {}, "hyper_parameters": sections, "epoch": 3}, best)
    with pytest.raises(SeqlabError) as refused:
        resume_point(tmp_path / "fresh", str(best), None)
    (line,) = str(refused.value).splitlines()
    assert line.startswith(f"{best}: a best checkpoint (weights only")
    assert f"ckpt_path={best.parent / 'last.ckpt'}" in line
