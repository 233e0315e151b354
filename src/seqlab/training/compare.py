"""seqlab-compare: baselines and networks on one data config, over several seeds.

For every seed it runs the classical baselines and each network (`seqlab.training.pipeline.train`
on the composed train config of `model=<name>`), all on the comparison's data config with
`split_seed` = the seed, so a seed's runs share one split. Each run keeps its own run dir (under
this one) and W&B run in the comparison's group; the comparison then writes table.md,
table.csv, runs.csv and chart.png here and logs the table and chart to W&B (job_type compare).
"""

from dataclasses import replace
from pathlib import Path
from typing import Any, TypeVar, cast

from omegaconf import DictConfig, OmegaConf, open_dict

from seqlab import config_dir
from seqlab.config import BaselinesConfig, CompareConfig, TrainConfig, validate
from seqlab.errors import SeqlabError
from seqlab.models.tasks import TASKS
from seqlab.schema import plain

Schema = TypeVar("Schema", BaselinesConfig, TrainConfig)


def compare(config: CompareConfig) -> Any:
    """Run everything and write the table; returns it (a DataFrame, one row per model)."""
    import pandas as pd

    from seqlab.baselines.classical import run_baselines
    from seqlab.reports.comparison import plot_chart, summarise, write_tables
    from seqlab.training.pipeline import train

    if config.data.kind != "events":
        raise SeqlabError("seqlab-compare needs event data (data=events, cdnow or yoochoose)")
    run_dir = Path(config.paths.output_dir)
    rows = []
    for seed in config.seeds:
        seed_dir = run_dir / f"seed{seed}"
        baseline_cfg = _composed(
            "baselines",
            BaselinesConfig,
            config,
            seed,
            seed_dir / "baselines",
            [f"baselines.models=[{','.join(config.baselines)}]"],
            job_type="baseline",
        )
        for name, metrics in run_baselines(baseline_cfg).items():
            rows.append({"model": name, "family": "baseline", "seed": seed, **metrics})
        for model in config.models:
            train_cfg = _composed(
                "train",
                TrainConfig,
                config,
                seed,
                seed_dir / model,
                [f"model={model}"],
                job_type="train",
                merge=config.train,
            )
            metrics = train(train_cfg)
            rows.append({"model": model, "family": "network", "seed": seed, **metrics})

    runs = pd.DataFrame(rows)
    table = summarise(runs)
    write_tables(runs, table, run_dir)
    chart = run_dir / "chart.png"
    per_step = ", per labelled step (task=tag)" if TASKS[config.task.name].per_step else ""
    plot_chart(table, chart, title=f"{config.data.name}: test metrics{per_step}")
    _log_to_wandb(config, run_dir, table, chart)
    print((run_dir / "table.md").read_text())
    return table


def _composed(
    name: str,
    schema: type[Schema],
    compare_cfg: CompareConfig,
    seed: int,
    output_dir: Path,
    overrides: list[str],
    job_type: str,
    merge: dict[str, Any] | None = None,
) -> Schema:
    """The config `seqlab-train` / `seqlab-baselines` would run, with the comparison's data,
    metrics average, group and loggers."""
    overrides = [
        f"seed={seed}",
        f"experiment_name={compare_cfg.experiment_name}",
        f"metrics.average={compare_cfg.metrics.average}",
        f"paths.output_dir={output_dir}",
        f"task={compare_cfg.task.name}",
        f"task.causal={compare_cfg.task.causal}",
        "print_config=false",
        *overrides,
    ]
    composed = _compose(name, overrides)
    # checked with the comparison's data, which the task's checks read
    composed.data = plain(compare_cfg.data)
    if merge:
        # New keys too (train.trainer.limit_train_batches=2: any lightning.Trainer argument, as
        # +trainer.<key> adds to seqlab-train); validate() then refuses a key no schema knows.
        with open_dict(composed):
            composed = cast(DictConfig, OmegaConf.merge(composed, merge))
    config = validate(composed, schema)
    wandb = replace(compare_cfg.logger.wandb, job_type=job_type)
    return replace(
        config,
        data=replace(compare_cfg.data, split_seed=seed),
        logger=replace(compare_cfg.logger, wandb=wandb),
    )


def _compose(name: str, overrides: list[str]) -> DictConfig:
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra
    from hydra.errors import HydraException

    try:
        if GlobalHydra.instance().is_initialized():  # inside seqlab-compare's own Hydra app
            return compose(name, overrides=overrides)
        with initialize_config_dir(config_dir=config_dir(), version_base="1.3"):
            return compose(name, overrides=overrides)
    except HydraException as error:
        first = str(error).strip().splitlines()[0]
        raise SeqlabError(f"config: {first}; check models and baselines") from None


def _log_to_wandb(config: CompareConfig, run_dir: Path, table, chart: Path) -> None:
    from lightning.pytorch.loggers import WandbLogger

    from seqlab.training.loggers import build_loggers, finish_wandb

    try:
        for logger in build_loggers(config.logger, run_dir, plain(config)):
            if isinstance(logger, WandbLogger):
                logger.log_table(key="comparison", dataframe=table.fillna(0.0))
                logger.log_image(key="chart", images=[str(chart)])
            logger.finalize("success")
    finally:
        finish_wandb()
