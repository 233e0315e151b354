"""The W&B workspace of a project, as code (`seqlab-dashboard`), built with wandb-workspaces.

Every key a panel names comes from the code that logs it: the metric names of seqlab.metrics.scores
per split, the test charts of training/callbacks/plots.py and the gradient norms of
training/callbacks/gradients.py. A renamed metric then renames its panel, and a test compares
the keys of the spec with those a real offline run logged (tests/test_dashboard.py), so a panel
cannot silently go blank.

Sections: each split's metrics (runs grouped by their W&B group, i.e. by experiment, unless one
group is chosen), the test charts (ROC, precision-recall, confusion matrix), the gradient norms;
the runs table shows `val/*_best` and `test/*`. For a sweep group: a parallel-coordinates plot
over the swept keys, the swept keys' importance, and the leaderboard (the runs table and a bar
chart sorted by `sort`). The swept keys are read from the sweep dir on disk: the flat config keys
(as W&B records them) whose values differ between its jobs' .hydra/config.yaml, so the spec is
built without the network.

`build_spec` is pure; seqlab.reports.workspace turns the spec into W&B's workspace, writes it
(dry_run=true) or saves it.
"""

import json
import re
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any, cast

from omegaconf import DictConfig, OmegaConf

from seqlab.config import DashboardConfig
from seqlab.errors import SeqlabError
from seqlab.layout import SPLITS
from seqlab.metrics.scores import METRIC_NAMES
from seqlab.reports.leaderboard import IGNORED_KEYS
from seqlab.training.callbacks.gradients import CLIPPED, PREFIX, RATIO
from seqlab.training.callbacks.plots import CONFUSION_CHART, PR_CHART, ROC_CHART
from seqlab.training.gradient_norms import GLOBAL
from seqlab.training.loggers import flatten

LOSS = "loss"  # logged beside the metrics, per split, as the module's epoch_metrics name it
BEST = "_best"  # val/<metric>_best, the run's summary when fit ends
TABLE = "_table"  # W&B stores a chart's data as the table <chart key>_table
# W&B's presets of the charts wandb.plot.roc_curve, pr_curve and confusion_matrix log, with the
# table columns each reads (W&B records the same in a run's config, _wandb.visualize; the test
# compares them).
CHART_PRESETS: dict[str, tuple[str, dict[str, str]]] = {
    ROC_CHART: ("wandb/area-under-curve/v0", {"x": "fpr", "y": "tpr", "class": "class"}),
    PR_CHART: ("wandb/area-under-curve/v0", {"x": "recall", "y": "precision", "class": "class"}),
    CONFUSION_CHART: (
        "wandb/confusion_matrix/v1",
        {"Actual": "Actual", "Predicted": "Predicted", "nPredictions": "nPredictions"},
    ),
}
# Families of gradient-norm keys whose members depend on the model (layers, directions).
GROUP_NORMS = rf"^{re.escape(PREFIX)}((ih|hh)_l\d+(_reverse)?|embeddings|head)$"
RATIOS = rf"^{re.escape(PREFIX)}{re.escape(RATIO)}"
SWEEP_FOLDERS = ("multiruns", "optuna")  # conf/hydra/default.yaml, conf/hparams_search/


class PanelKind(StrEnum):
    line = "line"  # a curve per run (or group) over steps
    bar = "bar"  # one value per run (or group)
    chart = "chart"  # a W&B custom chart of a logged table
    parallel = "parallel"  # parallel coordinates over config keys and a summary metric
    importance = "importance"  # each config key's importance for a summary metric


@dataclass
class Panel:
    kind: PanelKind
    title: str
    keys: list[str] = field(default_factory=list)  # logged keys (history or summary)
    config_keys: list[str] = field(default_factory=list)  # the run's flat config keys
    pattern: str | None = None  # a regex of logged keys, for families that vary by model
    preset: str | None = None  # chart: W&B's chart preset
    fields: dict[str, str] = field(default_factory=dict)  # chart: preset field -> table column


@dataclass
class Section:
    name: str
    panels: list[Panel]


@dataclass
class DashboardSpec:
    project: str
    entity: str | None
    name: str
    group: str | None  # only this W&B group's runs; None: all runs, grouped by group
    sections: list[Section]
    columns: list[str]  # the runs table: summary keys
    config_columns: list[str]  # the runs table: config keys (a sweep's swept keys)
    sort: str  # the runs table's order
    ascending: bool

    def logged_keys(self) -> set[str]:
        """Every logged key the spec names: its panels' and its runs table's."""
        keys = {key for section in self.sections for panel in section.panels for key in panel.keys}
        return keys | set(self.columns) | {self.sort}

    def config_keys(self) -> set[str]:
        panels = (panel for section in self.sections for panel in section.panels)
        return {key for panel in panels for key in panel.config_keys} | set(self.config_columns)

    def patterns(self) -> set[str]:
        panels = (panel for section in self.sections for panel in section.panels)
        return {panel.pattern for panel in panels if panel.pattern}


def build_spec(config: DashboardConfig, swept: list[str]) -> DashboardSpec:
    """The workspace of `config.project` from the names runs log; `swept`: a sweep group's
    swept config keys (empty for anything else)."""
    names = (LOSS, *METRIC_NAMES)
    grouped = config.group is None
    sections = [_split_section(split, names, grouped) for split in SPLITS]
    sections.append(_chart_section())
    sections.append(_gradient_section())
    if swept:
        sections.insert(0, _sweep_section(swept, config.sort))
    columns = [f"val/{name}{BEST}" for name in names] + [f"test/{name}" for name in names]
    if config.sort not in columns:
        raise SeqlabError(
            f"sort={config.sort}: not a value every run keeps in its summary; use one of "
            f"{', '.join(columns)}"
        )
    name = config.name or " ".join(filter(None, ("seqlab", config.project, config.group)))
    return DashboardSpec(
        project=config.project,
        entity=config.entity,
        name=name,
        group=config.group,
        sections=sections,
        columns=columns,
        config_columns=list(swept),
        sort=config.sort,
        ascending=config.sort.removesuffix(BEST).endswith(LOSS),
    )


def _split_section(split: str, names: tuple[str, ...], grouped: bool) -> Section:
    if split == "test":  # logged once, after fit: one value a run
        panels = [Panel(PanelKind.bar, f"test/{name}", keys=[f"test/{name}"]) for name in names]
    else:
        panels = [
            Panel(PanelKind.line, f"{split}/{name}", keys=[f"{split}/{name}"]) for name in names
        ]
    title = f"{split} metrics" + (" by experiment" if grouped else "")
    return Section(title, panels)


def _chart_section() -> Section:
    panels = [
        Panel(PanelKind.chart, key, keys=[key + TABLE], preset=preset, fields=dict(fields))
        for key, (preset, fields) in CHART_PRESETS.items()
    ]
    return Section("test charts", panels)


def _gradient_section() -> Section:
    overall = [f"{PREFIX}{GLOBAL}", f"{PREFIX}{CLIPPED}"]
    return Section(
        "gradient norms",
        [
            Panel(PanelKind.line, "global gradient norm, before and after clipping", keys=overall),
            Panel(PanelKind.line, "gradient norm per parameter group", pattern=GROUP_NORMS),
            Panel(PanelKind.line, "||dL/dh_t|| first-read step over last-read", pattern=RATIOS),
        ],
    )


def _sweep_section(swept: list[str], sort: str) -> Section:
    return Section(
        "sweep",
        [
            Panel(PanelKind.parallel, f"swept keys against {sort}", [sort], config_keys=swept),
            Panel(PanelKind.importance, f"importance for {sort}", [sort]),
            Panel(PanelKind.bar, f"leaderboard: {sort}", [sort]),
        ],
    )


def find_sweep_dir(config: DashboardConfig) -> Path | None:
    """The sweep dir named by sweep_dir, or the group's own dir under outputs/ (None: the group
    is not a sweep found on this machine)."""
    if config.sweep_dir is not None:
        folder = Path(config.sweep_dir).expanduser()
        if not folder.is_dir():
            raise SeqlabError(
                f"sweep_dir={config.sweep_dir}: no such directory; pass the multirun or Optuna "
                "dir seqlab-train wrote (its jobs' .hydra/config.yaml give the swept keys)"
            )
        return folder
    if config.group is None:
        return None
    outputs = Path(config.paths.root_dir) / "outputs"
    found = [
        folder
        for kind in SWEEP_FOLDERS
        for folder in sorted(outputs.glob(f"*/{kind}/{config.group}"))
        if folder.is_dir()
    ]
    return found[0] if found else None


def swept_keys(sweep_dir: Path) -> list[str]:
    """The flat config keys (as W&B records them) whose values differ between the jobs of a
    sweep dir, without the keys that say how a run was done rather than what (the
    leaderboard's IGNORED_KEYS)."""
    files = sorted(sweep_dir.glob("*/.hydra/config.yaml"))
    configs = [flatten(_job_config(path)) for path in files]
    if len(configs) < 2:
        raise SeqlabError(
            f"{sweep_dir}: {len(configs)} job(s) with .hydra/config.yaml; a sweep's panels need "
            "two or more: pass the sweep dir itself (sweep_dir=<dir>), or drop group="
        )
    keys = sorted(set().union(*configs))
    varying = [
        key
        for key in keys
        if len({json.dumps(c.get(key), sort_keys=True, default=str) for c in configs}) > 1
    ]
    return [key for key in varying if not key.startswith(IGNORED_KEYS)]


def _job_config(path: Path) -> dict[str, Any]:
    """A job's composed config as Hydra wrote it (interpolations left as written)."""
    try:
        loaded = OmegaConf.load(path)
    except Exception as error:  # YAML and OmegaConf raise several types
        raise SeqlabError(
            f"{path}: not valid YAML ({type(error).__name__}); restore the file Hydra wrote, or "
            "pass a sweep dir whose jobs' configs are intact (sweep_dir=<dir>)"
        ) from None
    if not isinstance(loaded, DictConfig):
        raise SeqlabError(f"{path}: not a mapping of config keys; restore the file Hydra wrote")
    return cast(dict[str, Any], OmegaConf.to_container(loaded, resolve=False))
