"""seqlab-dashboard: every key its workspace spec names is a key that real offline runs logged
(read back with W&B's own CLI, `wandb leet inspect --json`), so a renamed metric fails here
rather than leaving a blank panel; a sweep's swept keys; the offline refusal; bad input."""

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from seqlab.config import DashboardConfig
from seqlab.reports import dashboard as spec_module
from seqlab.reports.dashboard import DashboardSpec, build_spec, swept_keys
from seqlab.reports.workspace import SPEC_FILE

from conftest import run_cli, wandb_env, wandb_inspect

pytestmark = pytest.mark.slow
BIN = Path(sys.executable).parent
SWEEP = "grid_dashboard"  # the sweep dir's name: its jobs' W&B group


@pytest.fixture(scope="module")
def sweep(tmp_path_factory) -> Path:
    """Two tiny recurrent runs, W&B offline, as one multirun over model.hidden_size."""
    root = tmp_path_factory.mktemp("dashboard")
    sweep_dir = root / "outputs" / "train" / "multiruns" / SWEEP
    result = run_cli(
        "seqlab.cli.train",
        "-m",
        "model=gru",
        "model.hidden_size=4,8",
        "trainer.max_epochs=2",
        "data.protocol=val_split",
        "callbacks.gradients.every_n_steps=1",
        "callbacks.progress_bar=false",
        "print_config=false",
        "print_parameters=false",
        "logger=wandb",
        "logger.wandb.log_model=false",
        "logger.wandb.log_code=false",
        "logger.wandb.prediction_rows=0",
        f"hydra.sweep.dir={sweep_dir}",
        env={**wandb_env(root / "wandb_home"), "WANDB_MODE": ""},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return sweep_dir


def logged(run_dir: Path) -> tuple[set[str], dict, dict]:
    """What the run logged: its history and summary keys, its config, and the charts W&B
    recorded for it (_wandb.visualize: key -> panel config)."""
    records = [json.loads(line) for line in wandb_inspect(run_dir).splitlines() if line.strip()]
    keys = {k for r in records if r["type"] == "history" for k in r["history"]["item"]}
    summary = json.loads(wandb_inspect(run_dir, "--summary"))
    keys |= set(summary["summary"])
    charts = {}
    for record in records:
        for key, value in record.get("config", {}).get("update", {}).items():
            if key.startswith("_wandb.visualize."):
                charts[key.removeprefix("_wandb.visualize.")] = value["panel_config"]
    return keys, summary["config"], charts


def unlogged(spec: DashboardSpec, keys: set[str], config: dict) -> set[str]:
    """The keys the spec names that the run did not log; a pattern that matches no logged key
    counts as missing too."""
    missing = (spec.logged_keys() - keys) | (spec.config_keys() - set(config))
    return missing | {p for p in spec.patterns() if not any(re.search(p, k) for k in keys)}


def dry_run(tmp_path: Path, *overrides: str, env: dict | None = None):
    return run_cli(
        "seqlab.cli.dashboard",
        "project=seqlab",
        "dry_run=true",
        *overrides,
        f"hydra.run.dir={tmp_path / 'dash'}",
        env=env,
    )


def written_spec(tmp_path: Path) -> tuple[DashboardSpec, dict, str]:
    document = json.loads((tmp_path / "dash" / SPEC_FILE).read_text())
    spec = document["seqlab"]
    rebuilt = DashboardSpec(**{**spec, "sections": []})
    rebuilt.sections = [
        spec_module.Section(s["name"], [spec_module.Panel(**p) for p in s["panels"]])
        for s in spec["sections"]
    ]
    return rebuilt, spec, json.dumps(document["workspace"])


def test_every_key_of_a_sweep_dashboard_is_a_key_its_runs_logged(sweep, tmp_path):
    result = dry_run(tmp_path, f"group={SWEEP}", f"paths.root_dir={sweep.parents[3]}")
    assert result.returncode == 0, result.stderr[-3000:]
    spec, plain, wandb_model = written_spec(tmp_path)
    assert spec.config_columns == ["model.hidden_size"]  # what the sweep varied, and only that
    assert [s["name"] for s in plain["sections"]][0] == "sweep"
    kinds = {p["kind"] for s in plain["sections"] for p in s["panels"]}
    assert {"line", "bar", "chart", "parallel", "importance"} <= kinds
    for job in ("0", "1"):
        keys, config, _ = logged(sweep / job)
        assert config["logger.wandb.group"] == SWEEP
        assert unlogged(spec, keys, config) == set()
    for key in spec.logged_keys() | spec.config_keys():
        assert key in wandb_model  # the W&B workspace model names it as well
    assert f'"value": "{SWEEP}"' in wandb_model  # runs filtered to the group


def test_the_project_dashboard_names_only_logged_keys_and_its_charts_match_wandb(sweep):
    spec = build_spec(DashboardConfig(project="seqlab"), [])
    keys, config, charts = logged(sweep / "0")
    assert unlogged(spec, keys, config) == set()
    assert {"val/f1_best", "test/auroc", "grad_norm/global_clipped"} <= spec.logged_keys()
    panels = [p for s in spec.sections for p in s.panels if p.kind == "chart"]
    assert len(panels) == 3
    for panel in panels:
        recorded = charts[panel.title]  # what wandb.plot recorded for this chart key
        assert recorded["panelDefId"] == panel.preset
        assert recorded["fieldSettings"] == panel.fields
        table = recorded["userQuery"]["queryFields"][0]["fields"][-1]["args"][0]["value"]
        assert panel.keys == [table]


def test_a_renamed_metric_is_a_key_no_run_logged(sweep, monkeypatch):
    keys, config, _ = logged(sweep / "0")
    renamed = tuple("accuracy" if n == "acc" else n for n in spec_module.METRIC_NAMES)
    monkeypatch.setattr(spec_module, "METRIC_NAMES", renamed)
    spec = build_spec(DashboardConfig(project="seqlab"), [])
    expected = {"train/accuracy", "val/accuracy", "test/accuracy", "val/accuracy_best"}
    assert unlogged(spec, keys, config) == expected


def test_a_renamed_gradient_key_is_a_key_no_run_logged(sweep, monkeypatch):
    keys, config, _ = logged(sweep / "0")
    monkeypatch.setattr(spec_module, "CLIPPED", "clipped")
    monkeypatch.setattr(spec_module, "RATIOS", r"^grad_norm/ratio_")
    spec = build_spec(DashboardConfig(project="seqlab"), [])
    assert unlogged(spec, keys, config) == {"grad_norm/clipped", r"^grad_norm/ratio_"}


def test_swept_keys_leave_out_seeds_paths_and_loggers(sweep):
    assert swept_keys(sweep) == ["model.hidden_size"]


def test_a_group_without_a_sweep_dir_gets_no_sweep_panels(tmp_path):
    result = dry_run(tmp_path, "group=my_experiment", f"paths.root_dir={tmp_path}")
    assert result.returncode == 0, result.stderr[-3000:]
    assert "no sweep dir named my_experiment" in result.stdout
    spec, plain, _ = written_spec(tmp_path)
    assert spec.config_columns == [] and "sweep" not in [s["name"] for s in plain["sections"]]


def refused(result: subprocess.CompletedProcess) -> str:
    lines = [line for line in result.stderr.splitlines() if line.startswith("seqlab:")]
    assert result.returncode == 2, result.stderr[-3000:]
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr[-3000:]
    return lines[0]


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"WANDB_MODE": "offline"}, "W&B is offline here (WANDB_MODE=offline)"),
        (  # a port nothing listens on: the probe is refused at once
            {"WANDB_MODE": "", "WANDB_BASE_URL": "http://127.0.0.1:9", "HTTPS_PROXY": ""},
            "W&B at http://127.0.0.1:9 is unreachable (127.0.0.1:9:",
        ),
    ],
    ids=["offline", "unreachable"],
)
def test_saving_without_wandb_online_is_refused_in_one_line(tmp_path, env, expected):
    result = run_cli(
        "seqlab.cli.dashboard",
        "project=seqlab",
        f"hydra.run.dir={tmp_path / 'dash'}",
        env={**env, "https_proxy": ""},
    )
    line = refused(result)
    assert expected in line and "saving a workspace needs W&B online" in line
    assert "dry_run=true" in line
    assert not (tmp_path / "dash" / SPEC_FILE).exists()


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ([], "config: no value for project; set it in the config or on the command line"),
        (["project=a/b"], "config: project='a/b' cannot hold any of"),
        (["project=p", "sort=val/f1"], "sort=val/f1: not a value every run keeps in its summary"),
        (["project=p", "sweep_dir=/nonexistent"], "sweep_dir=/nonexistent: no such directory"),
    ],
    ids=["missing-project", "bad-project", "bad-sort", "missing-sweep-dir"],
)
def test_bad_input_is_one_line(tmp_path, overrides, expected):
    result = run_cli(
        "seqlab.cli.dashboard", "dry_run=true", *overrides, f"hydra.run.dir={tmp_path / 'dash'}"
    )
    assert expected in refused(result)
    assert not (tmp_path / "dash" / SPEC_FILE).exists()


def test_the_runs_table_sorts_losses_ascending_and_the_rest_descending():
    assert build_spec(DashboardConfig(project="p", sort="val/loss_best"), []).ascending
    assert not build_spec(DashboardConfig(project="p", sort="val/auroc_best"), []).ascending
