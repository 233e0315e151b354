"""The dashboard spec (seqlab.reports.dashboard) as W&B's own workspace, with wandb-workspaces:
written as JSON into the run dir without the network (dry_run=true), or saved to W&B, which needs
W&B online (refused in one line when it is offline or out of reach)."""

import json
import os
from dataclasses import asdict
from pathlib import Path
from typing import Any

from seqlab.config import DashboardConfig
from seqlab.errors import SeqlabError
from seqlab.files import write_text_atomic
from seqlab.reports.dashboard import (
    DashboardSpec,
    Panel,
    PanelKind,
    build_spec,
    find_sweep_dir,
    swept_keys,
)
from seqlab.training.loggers import wandb_unreachable

SPEC_FILE = "workspace.json"
GROUP = "Group"  # W&B's run attribute that holds logger.wandb.group
OFFLINE_MODES = ("offline", "dryrun", "disabled")  # values of WANDB_MODE


def workspace(spec: DashboardSpec, entity: str) -> Any:
    """The spec as a wandb-workspaces Workspace (W&B's own model of a saved workspace)."""
    import wandb_workspaces.reports.v2 as wr
    import wandb_workspaces.workspaces as ws

    grouped = spec.group is None  # runs grouped by experiment: their mean and its error
    mean: Any = "mean" if grouped else None
    error: Any = "stderr" if grouped else None

    def panel(p: Panel) -> Any:
        if p.kind == PanelKind.line:
            return wr.LinePlot(
                title=p.title,
                y=list(p.keys),
                metric_regex=p.pattern,
                groupby_aggfunc=mean,
                groupby_rangefunc=error,
            )
        if p.kind == PanelKind.bar:
            return wr.BarPlot(
                title=p.title, metrics=list(p.keys), groupby_aggfunc=mean, groupby_rangefunc=error
            )
        if p.kind == PanelKind.chart:
            (table,) = p.keys
            return wr.CustomChart(
                query={"summaryTable": {"tableKey": table}},
                chart_name=p.preset or "",
                chart_fields=dict(p.fields),
                chart_strings={"title": p.title},
            )
        if p.kind == PanelKind.parallel:
            columns = [wr.ParallelCoordinatesPlotColumn(wr.Config(k)) for k in p.config_keys]
            columns += [wr.ParallelCoordinatesPlotColumn(wr.SummaryMetric(k)) for k in p.keys]
            return wr.ParallelCoordinatesPlot(title=p.title, columns=columns)
        (target,) = p.keys
        return wr.ParameterImportancePlot(with_respect_to=target)

    filters = [ws.Metric(GROUP) == spec.group] if spec.group is not None else []
    return ws.Workspace(
        entity=entity,
        project=spec.project,
        name=spec.name,
        sections=[
            ws.Section(name=s.name, panels=[panel(p) for p in s.panels], is_open=True)
            for s in spec.sections
        ],
        runset_settings=ws.RunsetSettings(
            filters=filters,
            groupby=[ws.Metric(GROUP)] if spec.group is None else [],
            order=[ws.Ordering(ws.Summary(spec.sort), ascending=spec.ascending)],
            pinned_columns=[f"config:{key}" for key in spec.config_columns]
            + [f"summary:{key}" for key in spec.columns],
        ),
    )


def write_spec(spec: DashboardSpec, path: Path) -> None:
    """seqlab's spec and the W&B workspace model built from it, as one JSON file."""
    model = workspace(spec, spec.entity or "")._to_model()
    document = {
        "seqlab": asdict(spec),
        "workspace": model.model_dump(mode="json", by_alias=True, exclude_none=True),
    }
    write_text_atomic(path, json.dumps(document, indent=2) + "\n")


def refuse_offline() -> None:
    """Saving a workspace needs the W&B server: one line when W&B is offline or out of reach."""
    mode = os.environ.get("WANDB_MODE", "")
    fix = "write the spec without the network instead: dry_run=true"
    if mode in OFFLINE_MODES:
        raise SeqlabError(
            f"W&B is offline here (WANDB_MODE={mode}) and saving a workspace needs W&B online: "
            f"unset WANDB_MODE and run `wandb login`, or {fix}"
        )
    unreachable = wandb_unreachable()
    if unreachable is not None:
        url, where, reason = unreachable
        raise SeqlabError(
            f"W&B at {url} is unreachable ({where}: {reason}) and saving a workspace needs W&B "
            f"online: check the network or WANDB_BASE_URL, or {fix}"
        )


def save(spec: DashboardSpec) -> str:
    """Save the workspace to W&B as a new view; its URL."""
    import requests
    import wandb

    try:
        entity = spec.entity or wandb.Api().default_entity
        if not entity:
            raise SeqlabError("W&B has no default entity for this login; pass entity=<team>")
        saved = workspace(spec, entity).save()
    except (wandb.errors.Error, requests.RequestException) as error:  # no API key, no access
        first = (str(error).strip().splitlines() or [type(error).__name__])[0]
        raise SeqlabError(
            f"W&B refused the workspace ({first}); check `wandb login`, entity and project, or "
            "write it without the network: dry_run=true"
        ) from None
    return str(saved.url)


def dashboard(config: DashboardConfig, run_dir: Path) -> Path | str:
    """Build the workspace; dry_run: write it into run_dir (the file), else save it (its URL)."""
    if not config.dry_run:
        refuse_offline()
    sweep_dir = find_sweep_dir(config)
    if config.group is not None and sweep_dir is None:
        print(
            f"seqlab-dashboard: no sweep dir named {config.group} under "
            f"{Path(config.paths.root_dir) / 'outputs'}: no sweep panels (sweep_dir=<dir> "
            "names one)"
        )
    spec = build_spec(config, swept_keys(sweep_dir) if sweep_dir else [])
    if config.dry_run:
        path = run_dir / SPEC_FILE
        write_spec(spec, path)
        return path
    return save(spec)
