"""Where dglnb reads and writes: the project folder (:func:`home`) for runs, figures and goldens,
and the user cache for generated data.

The project folder is, in this order: ``DGLNB_HOME`` when set; the checkout the package runs from
(``pip install -e .``: the folder holding ``pyproject.toml`` and ``_config.yml``); else the working
directory (a ``pip install .`` outside a checkout). Below it sit ``build/runs`` (the run cache),
``book/figures`` and ``notebooks/goldens``, as in the repository.
"""

from __future__ import annotations

import os
from pathlib import Path

HOME = "DGLNB_HOME"  #: the variable naming the project folder


def checkout(start: Path | None = None) -> Path | None:
    """The dglnb checkout above ``start`` (default: this module), the folder holding both
    ``pyproject.toml`` and ``_config.yml``; None when there is none (an installed package)."""
    here = (start or Path(__file__)).resolve()
    for folder in [here, *here.parents]:
        if (folder / "pyproject.toml").is_file() and (folder / "_config.yml").is_file():
            return folder
    return None


def repo_root(start: Path | None = None) -> Path:
    """The dglnb checkout above ``start`` (:func:`checkout`); an error outside one, for what only a
    checkout has (the notebooks, the book's sources)."""
    root = checkout(start)
    if root is None:
        raise FileNotFoundError(
            f"no dglnb checkout above {(start or Path(__file__)).resolve()}: "
            "clone the repository and install it with pip install -e ."
        )
    return root


def home() -> Path:
    """The project folder: ``DGLNB_HOME``, else the checkout, else the working directory."""
    if os.environ.get(HOME):
        return Path(os.environ[HOME])
    return checkout() or Path.cwd()


def figures_dir(profile: str) -> Path:
    """Where notebooks save figures, one folder per profile so runs never overwrite each other:
    ``book/figures/<profile>`` in the project folder."""
    path = home() / "book" / "figures" / profile
    path.mkdir(parents=True, exist_ok=True)
    return path


def goldens_dir() -> Path:
    """The recorded goldens of the chapters' trained numbers: ``notebooks/goldens`` in the project folder."""
    return home() / "notebooks" / "goldens"


def cache_dir() -> Path:
    """Cache for generated data; ``DGLNB_CACHE`` overrides ``$XDG_CACHE_HOME/dglnb``."""
    if os.environ.get("DGLNB_CACHE"):
        path = Path(os.environ["DGLNB_CACHE"])
    else:
        path = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "dglnb"
    path.mkdir(parents=True, exist_ok=True)
    return path


def runs_dir(profile: str, name: str) -> Path:
    """Where training runs go: ``build/runs/<profile>/<name>`` in the project folder (never in git);
    ``DGLNB_RUNS`` overrides ``build/runs``."""
    return Path(os.environ.get("DGLNB_RUNS") or home() / "build" / "runs") / profile / name


def dataset_root(data_root: Path | str | None, dataset: str) -> Path | None:
    """``DATA_ROOT/<dataset>``, the folder ``data_prep/<dataset>.py --out DATA_ROOT/<dataset>`` writes;
    None without a ``data_root`` (the embedded datasets need none)."""
    return None if data_root is None else Path(data_root) / dataset
