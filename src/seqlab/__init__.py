"""seqlab: train MLP and recurrent sequence classifiers with Lightning + Hydra.

Importing it registers the OmegaConf resolvers the configs use, before Hydra composes one.
"""

from pathlib import Path

from omegaconf import OmegaConf

__version__ = "0.1.0"


def config_dir() -> str:
    """Where the Hydra configs are: inside the installed wheel, or the repository's conf/.

    An installed wheel carries a copy under seqlab/conf; an editable install or a source checkout
    reads the repository's top-level conf/ so that edits there take effect at once.
    """
    packaged = Path(__file__).parent / "conf"
    if packaged.is_dir():
        return str(packaged)
    return str(Path(__file__).resolve().parents[2] / "conf")


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


def _register_resolvers() -> None:
    if not OmegaConf.has_resolver("seqlab.wandb_group"):
        OmegaConf.register_new_resolver("seqlab.wandb_group", wandb_group)


_register_resolvers()
