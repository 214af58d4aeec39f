"""Where runs, figures and goldens go: DGLNB_HOME, else the checkout, else the working directory."""

from pathlib import Path

import pytest

from dglnb import paths
from dglnb.analysis import checks


def test_inside_the_checkout_the_project_folder_is_the_checkout(monkeypatch):
    monkeypatch.delenv(paths.HOME, raising=False)
    monkeypatch.delenv("DGLNB_RUNS", raising=False)
    root = paths.repo_root()
    assert (root / "_config.yml").is_file() and paths.home() == root
    assert paths.runs_dir("quick", "cache") == root / "build" / "runs" / "quick" / "cache"
    assert (
        checks.goldens_path("01_gradient_suppression")
        == root / "notebooks" / "goldens" / "01_gradient_suppression.json"
    )


def test_dglnb_home_names_the_project_folder(tmp_path, monkeypatch):
    monkeypatch.setenv(paths.HOME, str(tmp_path))
    monkeypatch.delenv("DGLNB_RUNS", raising=False)
    assert paths.runs_dir("smoke", "cache") == tmp_path / "build" / "runs" / "smoke" / "cache"
    assert paths.figures_dir("smoke") == tmp_path / "book" / "figures" / "smoke"
    assert checks.goldens_path("nb") == tmp_path / "notebooks" / "goldens" / "nb.json"


def test_outside_a_checkout_the_project_folder_is_the_working_directory(tmp_path, monkeypatch):
    monkeypatch.delenv(paths.HOME, raising=False)
    monkeypatch.delenv("DGLNB_RUNS", raising=False)
    monkeypatch.setattr(paths, "checkout", lambda start=None: None)  # as from site-packages
    monkeypatch.chdir(tmp_path)
    assert paths.home() == tmp_path
    assert paths.runs_dir("quick", "cache") == tmp_path / "build" / "runs" / "quick" / "cache"


def test_no_checkout_above_a_folder_is_said_with_what_to_do(tmp_path):
    assert paths.checkout(tmp_path) is None
    with pytest.raises(FileNotFoundError, match="clone the repository and install it"):
        paths.repo_root(tmp_path)
    assert paths.checkout(Path(paths.__file__)) == paths.repo_root()
