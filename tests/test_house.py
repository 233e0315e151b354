"""The house rules the code keeps: one declaration per option, a generated config reference,
models that know nothing of training, and a data kind added in exactly the documented steps."""

import dataclasses
import shutil
import subprocess
import sys
import textwrap
from enum import Enum
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf

from seqlab import config_dir
from seqlab.cli.config_docs import render
from seqlab.config import (
    BaselineModelsConfig,
    CallbacksConfig,
    DashboardConfig,
    GenerateConfig,
    LoggerConfig,
    TrainConfig,
    validate,
)
from seqlab.data.registry import DATA_KINDS, DataKind
from seqlab.models.registry import MODEL_KINDS

from conftest import REPO_ROOT, quick_overrides

CONF = Path(config_dir())

# Each YAML file that states a dataclass's defaults, and the dataclass (node path inside it).
YAML_DEFAULTS = [
    *[(CONF / "data" / f"{name}.yaml", kind.config, None) for name, kind in DATA_KINDS.items()],
    (CONF / "model" / "mlp.yaml", MODEL_KINDS["mlp"].config, None),
    (CONF / "model" / "lstm.yaml", MODEL_KINDS["recurrent"].config, None),
    (CONF / "model" / "_inputs.yaml", MODEL_KINDS["recurrent"].config, None),
    (CONF / "model" / "fcn.yaml", MODEL_KINDS["fcn"].config, None),
    (CONF / "model" / "lstm_fcn.yaml", MODEL_KINDS["recurrent_fcn"].config, None),
    (CONF / "callbacks" / "default.yaml", CallbacksConfig, None),
    (CONF / "logger" / "default.yaml", LoggerConfig, None),
    (CONF / "train.yaml", TrainConfig, None),
    (CONF / "generate.yaml", GenerateConfig, None),
    (CONF / "dashboard.yaml", DashboardConfig, None),
    (CONF / "baselines.yaml", BaselineModelsConfig, "baselines"),
]


def _default_of(schema: type, path: list[str]):
    value = schema()
    for part in path:
        value = getattr(value, part)
    return value


def _plain(value):
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if dataclasses.is_dataclass(value):
        return {k: _plain(v) for k, v in dataclasses.asdict(value).items()}
    return value


def _leaves(node, path=()):
    if isinstance(node, dict) and node:
        for key, value in node.items():
            yield from _leaves(value, (*path, key))
    else:
        yield list(path), node


@pytest.mark.parametrize(
    "yaml_file,schema,node", YAML_DEFAULTS, ids=lambda v: getattr(v, "name", None)
)
def test_no_yaml_default_disagrees_with_its_dataclass(yaml_file, schema, node):
    values = OmegaConf.to_container(OmegaConf.load(yaml_file), resolve=False)
    values.pop("defaults", None)
    if node:
        values = values[node]
    checked = 0
    for path, value in _leaves(values):
        if isinstance(value, str) and "${" in value:
            continue  # an interpolation (the seed, a path) is the YAML's own business
        if path[0] in ("data", "model", "trainer", "hydra"):
            continue  # groups of their own, checked in their files
        expected = _plain(_default_of(schema, path))
        assert value == expected, (
            f"{yaml_file.name}: {'.'.join(path)}={value!r}, dataclass {expected!r}"
        )
        checked += 1
    assert checked > 0


def test_the_config_reference_is_current():
    committed = (REPO_ROOT / "docs" / "config.md").read_text()
    assert committed == render(), "docs/config.md is stale: run make config-docs"


def test_the_config_reference_names_every_key_with_its_help():
    text = render()
    assert (
        "| `data.val_fraction` | `float` | `0.2` | stratified validation part carved from TRAIN |"
        in text
    )
    assert "| `callbacks.checkpoint.tie_breaker` |" in text
    assert "`adam` \\| `adamw` \\| `sgd` \\| `adadelta`" in text


def test_models_import_nothing_from_training():
    code = (
        "import sys, seqlab.models.classifier, seqlab.models.registry, seqlab.models.mlp;"
        "print(sorted(m for m in sys.modules if m.startswith('seqlab.training')))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"


def test_the_package_top_level_holds_few_modules():
    package = REPO_ROOT / "src" / "seqlab"
    assert len(list(package.glob("*.py"))) <= 8


TOY_CONFIG = """
from dataclasses import dataclass


@dataclass
class ToyDataConfig:
    kind: str = "toy"
    length: int = 5  # steps per sequence
    count: int = 48  # sequences per split
    batch_size: int = 8
"""

TOY_DATAMODULE = '''
import torch

from seqlab.data.base import SequenceDataModule
from seqlab.data.batch import SequenceDataset
from seqlab.data.meta import DataMeta


class ToyDataModule(SequenceDataModule):
    """Class 1 when the sequence's sum is positive."""

    def __init__(self, config):
        super().__init__(batch_size=config.batch_size, num_workers=0)
        self.config = config

    def build_splits(self):
        generator = torch.Generator().manual_seed(0)
        splits = {}
        for split in ("train", "val", "test"):
            inputs = torch.randn(self.config.count, self.config.length, 1, generator=generator)
            labels = (inputs.sum(dim=(1, 2)) > 0).long()
            lengths = torch.full((self.config.count,), self.config.length)
            splits[split] = SequenceDataset(inputs, None, lengths, labels)
        meta = DataMeta(1, 2, ("neg", "pos"), self.config.length)
        return splits, meta
'''


@pytest.mark.slow
def test_a_new_data_kind_takes_one_folder_one_yaml_and_one_registry_line(tmp_path, monkeypatch):
    # 1. one folder: the kind's options and its DataModule
    folder = tmp_path / "src" / "toykind"
    folder.mkdir(parents=True)
    (folder / "__init__.py").write_text("")
    (folder / "config.py").write_text(textwrap.dedent(TOY_CONFIG))
    (folder / "datamodule.py").write_text(textwrap.dedent(TOY_DATAMODULE))
    monkeypatch.syspath_prepend(str(tmp_path / "src"))
    # 2. one YAML in conf/data/
    conf = tmp_path / "conf"
    shutil.copytree(config_dir(), conf)
    (conf / "data" / "toy.yaml").write_text("kind: toy\nlength: 5\n")
    # 3. one registry line
    from toykind.config import ToyDataConfig

    monkeypatch.setitem(
        DATA_KINDS, "toy", DataKind(ToyDataConfig, "toykind.datamodule:ToyDataModule")
    )

    overrides = [*quick_overrides("data=toy", "model=gru", "trainer.max_epochs=1")]
    with initialize_config_dir(config_dir=str(conf), version_base="1.3"):
        cfg = compose("train", overrides=[*overrides, f"paths.output_dir={tmp_path / 'run'}"])
    config = validate(cfg, TrainConfig)
    assert config.data == ToyDataConfig(kind="toy", length=5, count=48, batch_size=8)

    from seqlab.training.pipeline import train

    metrics = train(config)
    assert 0.0 <= metrics["test/acc"] <= 1.0
    assert (tmp_path / "run" / "metrics.json").is_file()
    assert "## data.kind=toy" in render()


def test_no_import_cycles_among_seqlab_modules():
    """Imports inside functions count: a cycle there is a cycle of dependence all the same."""
    import ast

    package = REPO_ROOT / "src" / "seqlab"
    modules = {}
    for path in package.rglob("*.py"):
        parts = path.relative_to(package.parent).with_suffix("").parts
        modules[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    edges: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                targets = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
            else:
                continue
            edges[name] |= {t for t in targets if t in modules and t != name}

    def reaches(start: str, goal: str) -> bool:
        seen, todo = set(), [start]
        while todo:
            current = todo.pop()
            if current == goal:
                return True
            if current not in seen:
                seen.add(current)
                todo.extend(edges[current])
        return False

    cycles = sorted((a, b) for a in edges for b in edges[a] if reaches(b, a))
    assert not cycles, cycles
