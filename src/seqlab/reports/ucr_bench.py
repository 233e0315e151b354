"""`seqlab-ucr`: experiments x UCR datasets x seeds, run as Hydra multiruns of seqlab-train, and
the table of their test accuracy beside published references.

Every (experiment, dataset, seed) cell has its own run dir, <out>/runs/<experiment>/<dataset>/
seed<seed>/; a cell whose metrics.json exists is finished and never runs again, so an
interrupted benchmark resumes where it stopped (a cell dir without metrics.json is removed and
run again). The cells still to run are grouped into as few multiruns as the product form of a
Hydra sweep allows: one per experiment and set of missing seeds.

References: ucr_references.csv beside this file (sources in its header). The report compares the
mean test accuracy over seeds with each reference: wins, ties (equal at one decimal, the
precision of the published figures) and losses, the mean rank of every method over the datasets
that all of them cover (1 = best, ties share their mean rank), a critical-difference-style plot
of those ranks (Nemenyi test at alpha = 0.05, Demsar 2006) and a scatter plot against the
published MLP.
"""

import csv
import io
import json
import math
import shutil
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from seqlab.errors import SeqlabError
from seqlab.files import savefig_atomic, write_text_atomic
from seqlab.layout import METRICS_FILE
from seqlab.reports.table import markdown_table, mean_std, mean_std_cell

REFERENCES_FILE = Path(__file__).with_name("ucr_references.csv")
REFERENCE_NAMES = ("mlp", "fcn", "resnet", "dtw")
TRAIN_SUFFIXES = (".ts", "", ".txt", ".tsv")  # what data=ucr reads (data/ucr/datamodule.py)
SETTINGS_FILE = "settings.json"  # what changes every cell's result beyond its path
OUTPUT_NAMES = ("ucr_bench.md", "ucr_bench.csv", "ucr_ranks.png", "ucr_scatter.png")
# Nemenyi's critical values q_0.05 for 2..10 methods (Demsar 2006, Table 5a)
NEMENYI_Q05 = {2: 1.960, 3: 2.343, 4: 2.569, 5: 2.728, 6: 2.850, 7: 2.949, 8: 3.031, 9: 3.102}
NEMENYI_Q05[10] = 3.164


@dataclass(frozen=True)
class Cell:
    experiment: str
    dataset: str
    seed: int

    def run_dir(self, out: Path) -> Path:
        return out / "runs" / self.experiment / self.dataset / f"seed{self.seed}"


def find_datasets(root: Path | None) -> list[str]:
    """Every dataset with a TRAIN file in `root` (flat or one folder per set), or in the sktime
    wheel when root is None (univariate and multivariate alike)."""
    if root is None:
        from seqlab.data.ucr.datamodule import _embedded_folder

        folder = _embedded_folder("GunPoint").parent
        return sorted(p.name for p in folder.iterdir() if (p / f"{p.name}_TRAIN.ts").is_file())
    if not root.is_dir():
        raise SeqlabError(f"--root {root}: no such folder; point it at a folder of UCR files")
    names = set()
    for path in [*root.iterdir(), *root.glob("*/*")]:
        for suffix in TRAIN_SUFFIXES:
            stem = path.name[: len(path.name) - len(suffix)] if suffix else path.name
            if path.is_file() and path.name.endswith(suffix) and stem.endswith("_TRAIN"):
                names.add(stem[: -len("_TRAIN")])
    if not names:
        raise SeqlabError(f"--root {root}: no <name>_TRAIN files (.ts or UCR 2015) in it")
    return sorted(names)


def check_settings(out: Path, root: Path | None, overrides: list[str], record: bool) -> None:
    """A cell is keyed by experiment, dataset and seed in its path; what else changes its result
    (the data root, the overrides) is kept in <out>/settings.json, and another benchmark into the
    same folder is refused rather than reusing the first one's cells."""
    settings = {"root": str(root) if root else None, "overrides": sorted(overrides)}
    path = out / SETTINGS_FILE
    if path.is_file():
        stored = json.loads(path.read_text())
        if stored != settings:
            raise SeqlabError(
                f"{out} holds cells of another benchmark (--root {stored['root']}, overrides "
                f"{' '.join(stored['overrides']) or 'none'}); use another --out, or the same "
                "--root and overrides to continue it"
            )
    elif record:
        out.mkdir(parents=True, exist_ok=True)
        write_text_atomic(path, json.dumps(settings, indent=1) + "\n")


def plan(out: Path, experiments: list[str], datasets: list[str], seeds: list[int]) -> list[Cell]:
    """The cells without metrics.json; their unfinished run dirs are removed."""
    missing = []
    for cell in (Cell(e, d, s) for e in experiments for d in datasets for s in seeds):
        run_dir = cell.run_dir(out)
        if (run_dir / METRICS_FILE).is_file():
            continue
        if run_dir.exists():
            print(f"seqlab-ucr: {run_dir} is unfinished (no {METRICS_FILE}); running it again")
            shutil.rmtree(run_dir)
        missing.append(cell)
    return missing


def multirun_overrides(
    cells: list[Cell], out: Path, root: Path | None, extra: list[str]
) -> list[list[str]]:
    """The seqlab-train -m overrides that run exactly `cells`: per experiment, the datasets that
    miss the same seeds form one sweep (a product of datasets and seeds)."""
    groups: dict[tuple[str, tuple[int, ...]], list[str]] = {}
    by_pair: dict[tuple[str, str], list[int]] = {}
    for cell in cells:
        by_pair.setdefault((cell.experiment, cell.dataset), []).append(cell.seed)
    for (experiment, dataset), seeds in by_pair.items():
        groups.setdefault((experiment, tuple(sorted(seeds))), []).append(dataset)
    commands = []
    for (experiment, missing), datasets in groups.items():
        commands.append(
            [
                f"experiment={experiment}",
                f"data.name={','.join(datasets)}",
                f"seed={','.join(str(s) for s in missing)}",
                *([f"data.root={root}"] if root is not None else []),
                f"hydra.sweep.dir={out / 'runs'}",
                f"hydra.sweep.subdir={experiment}/${{data.name}}/seed${{seed}}",
                "print_config=false",
                "print_parameters=false",
                "callbacks.progress_bar=false",
                *extra,
            ]
        )
    return commands


def load_references(path: Path = REFERENCES_FILE) -> dict[str, dict[str, float]]:
    """normalised dataset name -> reference -> accuracy (%), blank cells left out."""
    lines = [line for line in path.read_text().splitlines() if not line.startswith("#")]
    table = {}
    for row in csv.DictReader(lines):
        values = {name: float(row[name]) for name in REFERENCE_NAMES if row.get(name)}
        table[normalised(row["dataset"])] = values
    return table


def normalised(name: str) -> str:
    """GunPoint (2018, sktime) and Gun_Point (2015) are one dataset."""
    return name.lower().replace("_", "")


@dataclass
class Result:
    dataset: str
    accuracy: dict[str, list[float]]  # experiment -> test accuracy (%) per finished seed
    references: dict[str, float]


def collect(
    out: Path, experiments: list[str], datasets: list[str], seeds: list[int]
) -> list[Result]:
    references = load_references()
    results = []
    for dataset in datasets:
        accuracy = {}
        for experiment in experiments:
            values = []
            for seed in seeds:
                metrics = Cell(experiment, dataset, seed).run_dir(out) / METRICS_FILE
                if metrics.is_file():
                    values.append(100 * float(json.loads(metrics.read_text())["test/acc"]))
            accuracy[experiment] = values
        results.append(Result(dataset, accuracy, references.get(normalised(dataset), {})))
    return results


def method_means(result: Result) -> dict[str, float]:
    """Every method's accuracy on this dataset: experiments' means and the references."""
    means = {e: float(np.mean(v)) for e, v in result.accuracy.items() if v}
    return {**means, **{f"{name} (published)": v for name, v in result.references.items()}}


def win_tie_loss(results: list[Result], experiment: str, reference: str) -> tuple[int, int, int]:
    counts = [0, 0, 0]
    for result in results:
        values = result.accuracy.get(experiment)
        if not values or reference not in result.references:
            continue
        ours, theirs = round(float(np.mean(values)), 1), round(result.references[reference], 1)
        counts[0 if ours > theirs else 1 if ours == theirs else 2] += 1
    return counts[0], counts[1], counts[2]


def mean_ranks(results: list[Result]) -> tuple[dict[str, float], int]:
    """Mean rank of every method over the datasets where every method has a value."""
    tables = [method_means(r) for r in results]
    methods = sorted(set[str]().union(*tables)) if tables else []
    complete = [t for t in tables if set(t) == set(methods)]
    if not complete or len(methods) < 2:
        return {}, 0
    ranks = np.array([_ranks([t[m] for m in methods]) for t in complete])
    return dict(zip(methods, ranks.mean(axis=0).tolist(), strict=True)), len(complete)


def _ranks(values: list[float]) -> list[float]:
    """1 for the highest value; tied values share the mean of their ranks."""
    array = np.asarray(values)
    return [1 + float((array > v).sum()) + (float((array == v).sum()) - 1) / 2 for v in array]


def critical_difference(methods: int, datasets: int) -> float:
    q = NEMENYI_Q05.get(methods)
    if q is None or datasets == 0:
        return math.nan
    return q * math.sqrt(methods * (methods + 1) / (6 * datasets))


def write_report(results: list[Result], experiments: list[str], out: Path) -> list[Path]:
    md, table, ranks_png, scatter_png = (out / name for name in OUTPUT_NAMES)
    ranks, covered = mean_ranks(results)
    write_text_atomic(md, _markdown(results, experiments, ranks, covered))
    write_text_atomic(table, _csv(results, experiments))
    _rank_plot(ranks, covered, ranks_png)
    _scatter_plot(results, experiments, scatter_png)
    return [md, table, ranks_png, scatter_png]


def _markdown(
    results: list[Result], experiments: list[str], ranks: dict[str, float], covered: int
) -> str:
    header = ["dataset", *experiments, *(f"{n} (published)" for n in REFERENCE_NAMES)]
    rows = []
    for result in results:
        cells = []
        for experiment in experiments:
            values = result.accuracy[experiment]
            cell = mean_std_cell(*mean_std(values), digits=1) if values else "n/a"
            cells.append(f"{cell} ({len(values)})" if values else cell)
        refs = [
            f"{result.references[n]:.1f}" if n in result.references else "" for n in REFERENCE_NAMES
        ]
        rows.append([result.dataset, *cells, *refs])
    lines = ["# UCR benchmark: test accuracy (%)", ""]
    lines += ["Mean ± sample std over seeds (number of finished seeds); published figures from"]
    lines += ["src/seqlab/reports/ucr_references.csv (sources in its header).", ""]
    lines += markdown_table(header, rows)
    lines += ["", "## Wins / ties / losses against the published figures", ""]
    wtl_rows = [
        [e, *("{}/{}/{}".format(*win_tie_loss(results, e, n)) for n in REFERENCE_NAMES)]
        for e in experiments
    ]
    lines += markdown_table(["experiment", *REFERENCE_NAMES], wtl_rows)
    lines += ["", "Ties: equal at one decimal.", ""]
    if ranks:
        cd = critical_difference(len(ranks), covered)
        lines += [f"## Mean rank over the {covered} datasets every method covers", ""]
        ordered = sorted(ranks.items(), key=lambda item: item[1])
        lines += markdown_table(["method", "mean rank"], [[m, f"{r:.2f}"] for m, r in ordered])
        if not math.isnan(cd):
            lines += ["", f"Nemenyi critical difference (alpha = 0.05): {cd:.2f}"]
    return "\n".join(lines) + "\n"


def _csv(results: list[Result], experiments: list[str]) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    header = ["dataset"]
    for experiment in experiments:
        header += [f"{experiment}_mean", f"{experiment}_std", f"{experiment}_seeds"]
    writer.writerow(header + list(REFERENCE_NAMES))
    for result in results:
        row: list[str] = [result.dataset]
        for experiment in experiments:
            values = result.accuracy[experiment]
            mean, std = mean_std(values) if values else (math.nan, math.nan)
            row += [_number(mean), _number(std), str(len(values))]
        row += [_number(result.references.get(n, math.nan)) for n in REFERENCE_NAMES]
        writer.writerow(row)
    return out.getvalue()


def _number(value: float) -> str:
    return "" if math.isnan(value) else f"{value:.4f}"


def _rank_plot(ranks: dict[str, float], covered: int, path: Path) -> None:
    """Methods on a mean-rank axis (best left), with the critical difference as a bar."""
    from matplotlib.figure import Figure

    figure = Figure(figsize=(7, 1.2 + 0.3 * max(1, len(ranks))), layout="constrained")
    ax = figure.subplots()
    ordered = sorted(ranks.items(), key=lambda item: item[1])
    for position, (method, rank) in enumerate(ordered):
        ax.plot([rank], [position], "o", color="tab:blue")
        ax.annotate(
            method, (rank, position), xytext=(6, 0), textcoords="offset points", va="center"
        )
    cd = critical_difference(len(ranks), covered)
    if not math.isnan(cd):
        ax.plot([1, 1 + cd], [-1, -1], color="tab:red", linewidth=3)
        ax.annotate(f"CD = {cd:.2f}", (1, -1), xytext=(0, 6), textcoords="offset points")
    ax.set_xlim(0.8, max(2, len(ranks)) + 1.5)  # room for the last label
    ax.set_yticks([])
    ax.invert_yaxis()
    ax.set_xlabel(f"mean rank over {covered} datasets (1 = best)")
    savefig_atomic(figure, path, dpi=110)


def _scatter_plot(results: list[Result], experiments: list[str], path: Path) -> None:
    from matplotlib.figure import Figure

    figure = Figure(figsize=(5, 5), layout="constrained")
    ax = figure.subplots()
    for experiment in experiments:
        points = [
            (r.references["mlp"], float(np.mean(r.accuracy[experiment])))
            for r in results
            if "mlp" in r.references and r.accuracy[experiment]
        ]
        if points:
            xs, ys = zip(*points, strict=True)
            ax.scatter(xs, ys, label=experiment, alpha=0.8)
    ax.plot([0, 100], [0, 100], color="grey", linewidth=1)
    ax.set_xlabel("published MLP (Fawaz et al. 2019), test accuracy %")
    ax.set_ylabel("this run, mean test accuracy %")
    ax.set_title("above the line: better than the published MLP")
    ax.legend(loc="lower right")
    savefig_atomic(figure, path, dpi=110)


def log_wandb_table(results: list[Result], experiments: list[str], out: Path) -> None:
    """The table as a W&B table in an offline run under <out>/wandb (`wandb sync` uploads it)."""
    import wandb

    rows = list(csv.reader(io.StringIO(_csv(results, experiments))))
    run = wandb.init(project="seqlab", job_type="ucr-bench", dir=str(out), mode="offline")
    columns: list[str | int] = list(rows[0])
    run.log({"ucr_bench": wandb.Table(columns=columns, data=rows[1:])})
    run.finish()


def parse_seeds(text: str) -> list[int]:
    try:
        seeds = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise SeqlabError(f"--seeds {text}: give whole numbers separated by commas") from None
    if not seeds or len(set(seeds)) != len(seeds):
        raise SeqlabError(f"--seeds {text}: give distinct seeds, e.g. --seeds 1,2,3,4,5")
    return seeds


def split_names(text: str, available: Iterable[str] | None = None) -> list[str]:
    names = [part.strip() for part in text.split(",") if part.strip()]
    if available is not None:
        known = set(available)
        unknown = [n for n in names if n not in known]
        if unknown:
            raise SeqlabError(
                f"--datasets: {', '.join(unknown)} not found; available: {', '.join(sorted(known))}"
            )
    return names
