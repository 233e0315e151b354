"""The W&B sweep specs: each parses, and its command, filled with one sample of its parameters
the way `wandb agent` fills it, is a seqlab-train command whose overrides compose a valid
config."""

from pathlib import Path

import pytest
import yaml
from wandb.sdk.launch.sweeps.utils import create_sweep_command_args

from conftest import REPO_ROOT, compose_train

SPECS = sorted((REPO_ROOT / "conf" / "wandb_sweeps").glob("*.yaml"))
METHODS = {"grid", "random", "bayes"}


def one_sample(parameters: dict) -> dict:
    """The first value, or the low end of a distribution, of every parameter."""
    sample = {}
    for name, spec in parameters.items():
        if "value" in spec:
            sample[name] = spec["value"]
        elif "values" in spec:
            sample[name] = spec["values"][0]
        else:
            sample[name] = spec["min"]
    return sample


def filled_command(spec: dict) -> list[str]:
    """`wandb agent`'s macro expansion (its own helper builds the argument forms)."""
    macros = create_sweep_command_args(
        {"args": {k: {"value": v} for k, v in one_sample(spec["parameters"]).items()}}
    )
    command = []
    for part in spec["command"]:
        if part == "${env}":
            command.append("/usr/bin/env")
        elif part.startswith("${") and part.endswith("}"):
            command.extend(macros[part[2:-1]])
        else:
            command.append(part)
    return command


def test_both_specs_exist():
    assert {p.stem for p in SPECS} == {"grid", "bayes"}


@pytest.mark.parametrize("path", SPECS, ids=[p.stem for p in SPECS])
def test_spec_parses_and_its_command_composes_a_valid_config(path: Path):
    spec = yaml.safe_load(path.read_text())
    assert spec["method"] in METHODS
    assert spec["metric"]["name"] == "val/f1_best" and spec["metric"]["goal"] == "maximize"
    assert "${args_no_hyphens}" in spec["command"]
    command = filled_command(spec)
    assert command[:2] == ["/usr/bin/env", "seqlab-train"]
    overrides = command[2:]
    sample = one_sample(spec["parameters"])
    assert all(f"{key}={value}" in overrides for key, value in sample.items())
    config = compose_train(overrides)
    assert config.logger.wandb.offline is False
    for key, value in sample.items():
        node = config
        for part in key.split("."):
            node = getattr(node, part)
        if key == "model":  # a config group: the composed section is that model's
            assert node.kind in ("mlp", "recurrent")
        else:
            assert node == value
