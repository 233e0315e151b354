"""seqlab-ucr: datasets of both formats found, finished cells never run again, the table's
counts and ranks against the shipped references."""

import json
import math

import numpy as np
import pytest

from seqlab.errors import SeqlabError
from seqlab.reports import ucr_bench
from seqlab.reports.ucr_bench import Cell, Result

from conftest import run_cli, wandb_env


def ramp_rows(count: int, seed: int) -> list[tuple[str, list[float]]]:
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(count):
        label = "a" if i % 2 else "b"
        values = np.linspace(-1, 1, 10) * (1 if label == "a" else -1) + rng.normal(0, 0.5, 10)
        rows.append((label, [round(float(v), 4) for v in values]))
    return rows


@pytest.fixture
def two_formats(tmp_path):
    """Gun_Point in UCR 2015 text (in a folder of its own) and Ramp as .ts, both tiny."""
    root = tmp_path / "ucr"
    (root / "Gun_Point").mkdir(parents=True)
    for split, seed in (("TRAIN", 0), ("TEST", 1)):
        text = "".join(
            f"{1 if label == 'a' else 2},{','.join(map(str, v))}\n"
            for label, v in ramp_rows(20, seed)
        )
        (root / "Gun_Point" / f"Gun_Point_{split}").write_text(text)
        header = "@problemName Ramp\n@univariate true\n@equalLength true\n@classLabel true a b\n"
        body = "".join(f"{','.join(map(str, v))}:{label}\n" for label, v in ramp_rows(20, seed))
        (root / f"Ramp_{split}.ts").write_text(header + "@data\n" + body)
    return root


def test_datasets_of_both_formats_are_found(two_formats):
    assert ucr_bench.find_datasets(two_formats) == ["Gun_Point", "Ramp"]


def test_the_embedded_sets_are_found():
    assert {"GunPoint", "ArrowHead", "ItalyPowerDemand"} <= set(ucr_bench.find_datasets(None))


def test_finished_cells_are_skipped_and_unfinished_ones_cleared(tmp_path):
    done = Cell("gunpoint_mlp", "Coffee", 1).run_dir(tmp_path)
    done.mkdir(parents=True)
    (done / "metrics.json").write_text('{"test/acc": 1.0}')
    broken = Cell("gunpoint_mlp", "Coffee", 2).run_dir(tmp_path)
    (broken / "checkpoints").mkdir(parents=True)
    cells = ucr_bench.plan(tmp_path, ["gunpoint_mlp"], ["Coffee", "Wine"], [1, 2])
    assert cells == [
        Cell("gunpoint_mlp", "Coffee", 2),
        Cell("gunpoint_mlp", "Wine", 1),
        Cell("gunpoint_mlp", "Wine", 2),
    ]
    assert not broken.exists() and done.is_dir()
    commands = ucr_bench.multirun_overrides(cells, tmp_path, None, ["logger=csv"])
    # Coffee misses seed 2 only, Wine both: two sweeps, together exactly the missing cells
    assert [c[:3] for c in commands] == [
        ["experiment=gunpoint_mlp", "data.name=Coffee", "seed=2"],
        ["experiment=gunpoint_mlp", "data.name=Wine", "seed=1,2"],
    ]
    assert all(c[-1] == "logger=csv" for c in commands)


def test_references_ship_with_their_sources():
    references = ucr_bench.load_references()
    # the figures of ../shared/datasets/README.md (Fawaz et al. 2019; 1NN-DTW full window)
    assert references["gunpoint"] == {"mlp": 92.7, "fcn": 100.0, "resnet": 99.1, "dtw": 90.7}
    assert references["arrowhead"]["mlp"] == 77.8
    header = ucr_bench.REFERENCES_FILE.read_text().split("dataset,")[0]
    assert "Fawaz" in header and "dl-4-tsc" in header


def test_wins_ties_losses_and_ranks():
    references = {"mlp": 90.0, "fcn": 95.0, "resnet": 99.0, "dtw": 80.0}
    results = [
        Result("A", {"x": [91.0, 93.0]}, references),  # 92.0: beats mlp and dtw
        Result("B", {"x": [90.0, 90.0]}, references),  # 90.0: ties mlp
        Result("C", {"x": [70.0]}, {"mlp": 75.0}),  # loses to mlp; fcn etc. missing
    ]
    assert ucr_bench.win_tie_loss(results, "x", "mlp") == (1, 1, 1)
    assert ucr_bench.win_tie_loss(results, "x", "resnet") == (0, 0, 2)
    ranks, covered = ucr_bench.mean_ranks(results)
    assert covered == 2  # C lacks fcn, resnet and dtw
    assert ranks["x"] == pytest.approx((3 + 3.5) / 2)  # 3rd on A, tied 3rd/4th with mlp on B
    assert ranks["resnet (published)"] == 1.0
    cd = ucr_bench.critical_difference(5, 2)
    assert cd == pytest.approx(2.728 * math.sqrt(5 * 6 / 12))


@pytest.mark.slow
def test_seqlab_ucr_runs_both_formats_and_resumes(tmp_path, two_formats):
    out = tmp_path / "bench"
    args = ["--experiments", "gunpoint_mlp", "--root", str(two_formats), "--datasets", "all"]
    args += ["--out", str(out), "--seeds", "1", "--", "trainer.max_epochs=2", "logger=csv"]
    env = wandb_env(tmp_path / "wandb")
    first = run_cli("seqlab.cli.ucr", *args, env=env, timeout=600)
    assert first.returncode == 0, first.stderr[-2000:]
    finished = sorted(out.glob("runs/gunpoint_mlp/*/seed1/metrics.json"))
    assert [p.parent.parent.name for p in finished] == ["Gun_Point", "Ramp"]
    stamps = [p.stat().st_mtime_ns for p in finished]
    table = (out / "ucr_bench.md").read_text()
    assert "| Gun_Point |" in table and "92.7" in table  # matched to the published GunPoint
    assert all((out / name).is_file() for name in ucr_bench.OUTPUT_NAMES)
    assert list(out.glob("wandb/offline-run-*"))

    again = run_cli("seqlab.cli.ucr", *args, env=env, timeout=600)
    assert again.returncode == 0, again.stderr[-2000:]
    assert "0 of 2 cells to run" in again.stdout
    assert [p.stat().st_mtime_ns for p in finished] == stamps
    accuracy = json.loads(finished[0].read_text())["test/acc"]
    assert f"{100 * accuracy:.1f}" in (out / "ucr_bench.md").read_text()

    other_settings = [*args[: args.index("--") + 1], "trainer.max_epochs=3", "logger=csv"]
    refused = run_cli("seqlab.cli.ucr", *other_settings, env=env, timeout=600)
    assert refused.returncode == 2
    assert f"{out} holds cells of another benchmark (--root {two_formats}" in refused.stderr
    assert [p.stat().st_mtime_ns for p in finished] == stamps


def test_settings_of_a_benchmark_folder_are_its_key(tmp_path):
    ucr_bench.check_settings(tmp_path, None, ["b=2", "a=1"], record=True)
    ucr_bench.check_settings(tmp_path, None, ["a=1", "b=2"], record=True)  # same, any order
    with pytest.raises(SeqlabError, match="holds cells of another benchmark"):
        ucr_bench.check_settings(tmp_path, tmp_path / "other", ["a=1", "b=2"], record=False)
