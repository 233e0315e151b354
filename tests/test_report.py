"""seqlab-report on synthetic run dirs: the numbers, the grouping, the sorting, failed jobs and
bad input, all offline."""

import csv
import json
from pathlib import Path

import numpy as np
import pytest
import yaml

from seqlab.cli.report import main
from seqlab.reports.leaderboard import OUTPUT_NAMES, collect_runs, leaderboard

RNG = np.random.default_rng(0)


def make_run(path: Path, overrides: list[str], metrics: dict[str, float] | None) -> Path:
    (path / ".hydra").mkdir(parents=True)
    (path / ".hydra" / "config.yaml").write_text("seed: 1\n")
    (path / ".hydra" / "overrides.yaml").write_text(yaml.safe_dump(overrides))
    if metrics is not None:
        (path / "metrics.json").write_text(json.dumps(metrics))
    return path


@pytest.fixture
def sweep(tmp_path) -> tuple[Path, dict[str, list[dict]]]:
    """A multirun dir: two models x three seeds, plus one failed job."""
    written: dict[str, list[dict]] = {"model=mlp": [], "model=lstm": []}
    job = 0
    for model in ("mlp", "lstm"):
        for seed in (1, 2, 3):
            metrics = {
                "test/acc": float(RNG.uniform(0.5, 1)),
                "test/f1": float(RNG.uniform(0.5, 1)) + (0.5 if model == "lstm" else 0.0),
                "test/loss": float(RNG.uniform(0, 1)),
                "val/f1_best": 1.0,
            }
            written[f"model={model}"].append(metrics)
            overrides = [f"model={model}", f"seed={seed}", "logger.wandb.enabled=false"]
            make_run(tmp_path / "sweep" / str(job), overrides, metrics)
            job += 1
    make_run(tmp_path / "sweep" / str(job), ["model=gru", "seed=1"], None)
    return tmp_path / "sweep", written


def test_mean_and_std_per_configuration_match_numpy(sweep):
    folder, written = sweep
    rows, failed = leaderboard(collect_runs([folder]), sort="test/f1")
    assert [row.config for row in rows] == ["model=lstm", "model=mlp"]  # lstm got +0.5 f1
    for row in rows:
        assert len(row.runs) == 3
        for name in ("test/acc", "test/f1", "test/loss"):
            values = [m[name] for m in written[row.config]]
            assert row.mean[name] == pytest.approx(np.mean(values), abs=1e-12)
            assert row.std[name] == pytest.approx(np.std(values, ddof=1), abs=1e-12)
    assert [run.path.name for run in failed] == ["6"]


def test_sorting_follows_the_chosen_metric_and_its_direction(sweep):
    folder, written = sweep
    runs = collect_runs([folder])
    by_loss, _ = leaderboard(runs, sort="test/loss")
    losses = [row.mean["test/loss"] for row in by_loss]
    assert losses == sorted(losses)  # lower is better
    by_acc, _ = leaderboard(runs, sort="test/acc")
    accs = [row.mean["test/acc"] for row in by_acc]
    assert accs == sorted(accs, reverse=True)
    expected = max(written, key=lambda c: np.mean([m["test/acc"] for m in written[c]]))
    assert by_acc[0].config == expected


def test_cli_writes_markdown_csv_png_and_lists_the_failed_job(sweep, capsys):
    folder, written = sweep
    main([str(folder)])
    for name in OUTPUT_NAMES:
        assert (folder / name).stat().st_size > 0
    markdown = (folder / "leaderboard.md").read_text()
    assert "| 1 | model=lstm | 3 |" in markdown
    assert "Failed or unfinished jobs (1" in markdown
    assert f"{(folder / '6').resolve()} (model=gru)" in markdown
    rows = list(csv.DictReader((folder / "leaderboard.csv").open()))
    assert [r["configuration"] for r in rows] == ["model=lstm", "model=mlp"]
    mlp_f1 = [m["test/f1"] for m in written["model=mlp"]]
    assert float(rows[1]["test/f1_mean"]) == pytest.approx(np.mean(mlp_f1), abs=1e-12)
    assert float(rows[1]["test/f1_std"]) == pytest.approx(np.std(mlp_f1, ddof=1), abs=1e-12)
    assert (folder / "leaderboard.png").read_bytes()[:4] == b"\x89PNG"
    assert "model=lstm" in capsys.readouterr().out


def test_several_dirs_and_single_runs_are_merged(tmp_path):
    a = make_run(tmp_path / "a", ["model=mlp", "seed=1"], {"test/f1": 0.5})
    b = make_run(tmp_path / "b", ["model=mlp", "seed=2"], {"test/f1": 0.7})
    rows, failed = leaderboard(collect_runs([a, b, a]), sort="test/f1")  # a twice: counted once
    assert len(rows) == 1 and len(rows[0].runs) == 2 and not failed
    assert rows[0].mean["test/f1"] == pytest.approx(0.6)


@pytest.mark.parametrize(
    ("setup", "args", "message"),
    [
        (lambda p: p.mkdir(), [], "no run dirs in it"),
        (lambda p: None, [], "no such directory"),
        (lambda p: make_run(p / "0", ["seed=1"], None), [], "no finished run"),
        (
            lambda p: make_run(p / "0", ["seed=1"], {"test/f1": 1.0}),
            ["--sort", "test/f2"],
            "test/f2",
        ),
    ],
    ids=["empty sweep dir", "missing dir", "all jobs failed", "unknown sort metric"],
)
def test_bad_input_is_one_line_and_writes_nothing(tmp_path, capsys, setup, args, message):
    folder = tmp_path / "sweep"
    setup(folder)
    with pytest.raises(SystemExit) as exit_info:
        main([str(folder), *args])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0], err
    assert not any((folder / name).exists() for name in OUTPUT_NAMES)
