"""OmegaConf resolvers the configs use; registered on `import seqlab`, before Hydra composes."""

from pathlib import Path

from omegaconf import OmegaConf


def wandb_group(experiment_name: str) -> str:
    """The W&B group of a run: its experiment's name, or in a multirun (a grid, a seed sweep, an
    Optuna search) the sweep dir's name, so all jobs of one sweep land in one group and two
    sweeps of the same experiment stay apart. Sweep dirs carry the experiment name
    (conf/hydra/default.yaml, conf/hparams_search/)."""
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    if not HydraConfig.initialized():
        return experiment_name
    hydra = HydraConfig.get()
    if hydra.mode != RunMode.MULTIRUN:
        return experiment_name
    return Path(hydra.sweep.dir).name


def register() -> None:
    if not OmegaConf.has_resolver("seqlab.wandb_group"):
        OmegaConf.register_new_resolver("seqlab.wandb_group", wandb_group)
