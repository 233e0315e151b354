"""What a run prints: the composed config as a tree at the start, the final metrics at the end."""

import logging
import warnings
from collections.abc import Mapping
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.tree import Tree

console = Console()


def print_config_tree(config: dict[str, Any]) -> None:
    tree = Tree("config")
    _add_branches(tree, config)
    console.print(tree)


def _add_branches(tree: Tree, node: dict[str, Any]) -> None:
    for key, value in node.items():
        if isinstance(value, dict):
            _add_branches(tree.add(f"[bold]{key}[/bold]"), value)
        else:
            tree.add(f"{key}: {value!r}")


def print_metrics_table(metrics: Mapping[str, float | str], title: str) -> None:
    # the title (a path) on a line of its own: a table title would be folded to the table's
    # width, and a folded path cannot be copied
    console.print(title, soft_wrap=True, highlight=False)
    table = Table()
    table.add_column("metric")
    table.add_column("value", justify="right")
    for name, value in metrics.items():
        table.add_row(name, value if isinstance(value, str) else f"{value:.4f}")
    console.print(table)


def print_parameter_table(rows: list[tuple[str, str, int]]) -> None:
    table = Table(title="parameters (exact, trainable)")
    table.add_column("layer")
    table.add_column("type")
    table.add_column("params", justify="right")
    for name, kind, count in rows:
        table.add_row(name, kind, f"{count:,}")
    table.add_row("total", "", f"{sum(count for _, _, count in rows):,}")
    console.print(table)


# Warnings that seqlab's use of its dependencies raises on every run and that no setting of a
# run can change, as (message, category, module where it is raised): each filtered by all three,
# so that the same text from elsewhere, or another warning from that module, still shows.
KNOWN_WARNINGS = [
    # lightning 2.6.6's own pytree helper builds torch's deprecated LeafSpec
    (
        r"`isinstance\(treespec, LeafSpec\)` is deprecated",
        FutureWarning,
        r"lightning\.pytorch\.utilities\._pytree",
    ),
]


def quiet_known_warnings() -> None:
    for message, category, module in KNOWN_WARNINGS:
        warnings.filterwarnings("ignore", message=message, category=category, module=module)


def log_lightning_once() -> None:
    """`import lightning` gives its logger a console handler of its own, and its records also
    reach the root logger, which Hydra sets up (console and the run's log file): every
    Lightning message was printed twice. Where the root logger has handlers, they alone print."""
    if logging.getLogger().hasHandlers():
        lightning_logger = logging.getLogger("lightning")
        for handler in list(lightning_logger.handlers):
            lightning_logger.removeHandler(handler)
