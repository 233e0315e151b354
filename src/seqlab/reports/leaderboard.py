"""The leaderboard of `seqlab-report DIR...`: run dirs (single runs, multirun or Optuna sweep
dirs) turned into one table.

Each run dir holds .hydra/config.yaml, .hydra/overrides.yaml and, once the run finished,
metrics.json. Runs are grouped by configuration, meaning their command-line overrides without the
seed and without settings that do not change the experiment (paths, logging, printing), so the
seeds of one configuration become one row: mean and sample standard deviation (ddof=1; blank for
a single run) of every test metric, sorted by the chosen metric. A run dir without metrics.json
is a failed (or unfinished) job: it is listed, never fatal. Fully offline: no W&B, no torch.

Writes leaderboard.md, leaderboard.csv and leaderboard.png into --out (default: the one dir
given, else the current folder).
"""

import csv
import io
import json
import math
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from omegaconf import ListConfig, OmegaConf

from seqlab.errors import SeqlabError
from seqlab.files import savefig_atomic, write_text_atomic
from seqlab.layout import METRICS_FILE
from seqlab.reports.table import markdown_table, mean_std, mean_std_cell

OUTPUT_NAMES = ("leaderboard.md", "leaderboard.csv", "leaderboard.png")
# Override keys that say how a run was done, not what was run.
IGNORED_KEYS: tuple[str, ...] = ("seed", "data.split_seed", "paths.", "hydra.", "logger.")
IGNORED_KEYS += ("print_config", "callbacks.progress_bar", "trainer.enable_progress_bar")
IGNORED_KEYS += ("trainer.enable_model_summary", "print_parameters")
PLOTTED = ("test/acc", "test/f1", "test/auroc")


@dataclass
class Run:
    path: Path
    config: str  # the overrides that define its configuration, or "defaults"
    metrics: dict[str, float] | None  # None: the job failed or has not finished


@dataclass
class Row:
    config: str
    runs: list[Run]
    mean: dict[str, float]
    std: dict[str, float]


def collect_runs(dirs: list[Path]) -> list[Run]:
    run_dirs: dict[Path, None] = {}  # ordered, without duplicates
    for folder in dirs:
        if not folder.is_dir():
            raise SeqlabError(f"{folder}: no such directory; pass run dirs or sweep dirs")
        found = sorted(
            (p.parent.parent for p in folder.rglob("config.yaml") if p.parent.name == ".hydra"),
            key=_natural_key,
        )
        if not found:
            raise SeqlabError(
                f"{folder}: no run dirs in it (a run dir holds .hydra/config.yaml); is it an "
                "empty or not yet started sweep? pass the dirs seqlab-train wrote"
            )
        run_dirs.update(dict.fromkeys(p.resolve() for p in found))
    return [_load_run(path) for path in run_dirs]


def leaderboard(runs: list[Run], sort: str) -> tuple[list[Row], list[Run]]:
    """Rows sorted best first by `sort` (ascending for losses), and the failed runs."""
    finished = [run for run in runs if run.metrics is not None]
    failed = [run for run in runs if run.metrics is None]
    if not finished:
        raise SeqlabError(
            f"no finished run among {len(runs)} (none has {METRICS_FILE}): "
            + ", ".join(str(run.path) for run in failed)
        )
    available = sorted(set[str]().union(*(run.metrics or {} for run in finished)))
    if sort not in available:
        raise SeqlabError(f"--sort {sort}: no run has this metric; use one of {available}")
    names = [n for n in available if n.startswith("test/")]
    if sort not in names:
        names.append(sort)
    groups: dict[str, list[Run]] = defaultdict(list)
    for run in finished:
        groups[run.config].append(run)
    rows = [_row(config, members, names) for config, members in groups.items()]
    descending = not sort.endswith("loss")
    rows.sort(key=lambda row: _sort_value(row.mean[sort], descending))
    return rows, failed


def write_outputs(rows: list[Row], failed: list[Run], sort: str, out: Path) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    md, table, png = (out / name for name in OUTPUT_NAMES)
    write_text_atomic(md, _markdown(rows, failed, sort))
    _write_csv(rows, table)
    _plot(rows, sort, png)
    return [md, table, png]


def _load_run(path: Path) -> Run:
    overrides = _overrides(path / ".hydra" / "overrides.yaml")
    kept = [str(o) for o in overrides if not _ignored(str(o))]
    metrics_file = path / METRICS_FILE
    metrics = None
    if metrics_file.is_file():
        try:
            written = json.loads(metrics_file.read_text())
            # strings say how the run was done (its protocol), not what it measured
            metrics = {k: float(v) for k, v in written.items() if not isinstance(v, str)}
        except (ValueError, AttributeError, TypeError):
            raise SeqlabError(
                f"{metrics_file}: not a metrics file ({{name: number}}); delete it or rerun"
            ) from None
    return Run(path=path, config=" ".join(kept) or "defaults", metrics=metrics)


def _overrides(path: Path) -> list[str]:
    """The run's command-line overrides: Hydra writes them as a YAML list of strings."""
    if not path.is_file():
        return []
    try:
        loaded = OmegaConf.load(path)
    except Exception as error:  # YAML and OmegaConf raise several types
        first = str(error).strip().splitlines()[0] if str(error).strip() else ""
        raise SeqlabError(
            f"{path}: not valid YAML ({type(error).__name__}: {first}); restore the file "
            "Hydra wrote (a list of overrides) or delete it"
        ) from None
    if not isinstance(loaded, ListConfig) or not all(isinstance(o, str) for o in loaded):
        raise SeqlabError(
            f"{path}: not a list of overrides (Hydra writes e.g. ['model=gru']); restore the "
            "file Hydra wrote or delete it"
        )
    return list(loaded)


def _ignored(override: str) -> bool:
    key = override.lstrip("+~").split("=", 1)[0]
    return any(key == k or (k.endswith(".") and key.startswith(k)) for k in IGNORED_KEYS)


def _row(config: str, runs: list[Run], names: list[str]) -> Row:
    mean, std = {}, {}
    for name in names:
        # only finished runs (metrics not None) reach a row
        mean[name], std[name] = mean_std([(run.metrics or {}).get(name, math.nan) for run in runs])
    return Row(config=config, runs=runs, mean=mean, std=std)


def _sort_value(value: float, descending: bool) -> float:
    if math.isnan(value):
        return math.inf  # runs missing the metric go last
    return -value if descending else value


def _markdown(rows: list[Row], failed: list[Run], sort: str) -> str:
    names = list(rows[0].mean)
    order = "lower" if sort.endswith("loss") else "higher"
    lines = [f"# Leaderboard (sorted by {sort}, {order} is better; mean ± std over runs)", ""]
    lines += markdown_table(
        ["rank", "configuration", "runs", *names],
        [
            [str(rank), row.config, str(len(row.runs))]
            + [mean_std_cell(row.mean[n], row.std[n]) for n in names]
            for rank, row in enumerate(rows, start=1)
        ],
    )
    if failed:
        lines += ["", f"## Failed or unfinished jobs ({len(failed)}, no {METRICS_FILE})", ""]
        lines += [f"- {run.path} ({run.config})" for run in failed]
    return "\n".join(lines) + "\n"


def _write_csv(rows: list[Row], path: Path) -> None:
    names = list(rows[0].mean)
    text = io.StringIO(newline="")
    writer = csv.writer(text)
    writer.writerow(
        ["rank", "configuration", "runs", *(f"{n}_{s}" for n in names for s in ("mean", "std"))]
    )
    for rank, row in enumerate(rows, start=1):
        values = [v for n in names for v in (row.mean[n], row.std[n])]
        writer.writerow([rank, row.config, len(row.runs), *(_csv_number(v) for v in values)])
    write_text_atomic(path, text.getvalue())


def _csv_number(value: float) -> str:
    return "" if math.isnan(value) else repr(value)


def _plot(rows: list[Row], sort: str, path: Path) -> None:
    """One panel per metric, one bar per configuration (best at the top), std as error bars."""
    from matplotlib.figure import Figure

    names = [n for n in PLOTTED if n in rows[0].mean] or [sort]
    if sort not in names:
        names.insert(0, sort)
    height = 1.2 + 0.35 * len(rows)
    figure = Figure(figsize=(4.2 * len(names), height), layout="constrained")
    axes = figure.subplots(1, len(names), sharey=True, squeeze=False)[0]
    positions = np.arange(len(rows))[::-1]
    for ax, name in zip(axes, names, strict=True):
        means = [row.mean[name] for row in rows]
        errors = [0.0 if math.isnan(row.std[name]) else row.std[name] for row in rows]
        ax.barh(positions, means, xerr=errors, color="tab:blue", alpha=0.8, capsize=3)
        ax.set_title(name)
        finite = [m for m in means if not math.isnan(m)]
        if finite and not name.endswith("loss"):
            ax.set_xlim(max(0.0, min(finite) - 0.1), 1.0)
        ax.grid(axis="x", alpha=0.3)
    axes[0].set_yticks(positions, [_short(f"#{i} {row.config}") for i, row in enumerate(rows, 1)])
    figure.suptitle(f"seqlab-report: mean ± std over runs, sorted by {sort}")
    savefig_atomic(figure, path, dpi=110)


def _short(label: str, width: int = 48) -> str:
    """Optuna trials have long override lists; the full text is in leaderboard.md."""
    return label if len(label) <= width else label[: width - 1] + "…"


def _natural_key(path: Path) -> list:
    """Job dirs 0, 1, ..., 10 in numeric order."""
    return [(0, int(part), "") if part.isdigit() else (1, 0, part) for part in path.parts]
