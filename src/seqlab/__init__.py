"""seqlab: train MLP and recurrent sequence classifiers with Lightning + Hydra."""

from pathlib import Path

from seqlab import resolvers

__version__ = "0.1.0"
resolvers.register()


def config_dir() -> str:
    """Where the Hydra configs are: inside the installed wheel, or the repository's conf/.

    An installed wheel carries a copy under seqlab/conf; an editable install or a source checkout
    reads the repository's top-level conf/ so that edits there take effect at once.
    """
    packaged = Path(__file__).parent / "conf"
    if packaged.is_dir():
        return str(packaged)
    return str(Path(__file__).resolve().parents[2] / "conf")
