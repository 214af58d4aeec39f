"""Paths resolved from the repository root and the user cache, never from the working directory."""

from __future__ import annotations

import os
from pathlib import Path


def repo_root(start: Path | None = None) -> Path:
    """The folder holding both ``pyproject.toml`` and ``_config.yml`` (walks up from ``start``)."""
    here = (start or Path(__file__)).resolve()
    for folder in [here, *here.parents]:
        if (folder / "pyproject.toml").is_file() and (folder / "_config.yml").is_file():
            return folder
    raise FileNotFoundError(
        f"no dglnb checkout above {here}: run from a clone (pip install -e .) of the repository"
    )


def figures_dir(profile: str) -> Path:
    """Where notebooks save figures, one folder per profile so runs never overwrite each other."""
    path = repo_root() / "book" / "figures" / profile
    path.mkdir(parents=True, exist_ok=True)
    return path


def cache_dir() -> Path:
    """Cache for generated data; ``DGLNB_CACHE`` overrides ``$XDG_CACHE_HOME/dglnb``."""
    if os.environ.get("DGLNB_CACHE"):
        path = Path(os.environ["DGLNB_CACHE"])
    else:
        path = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "dglnb"
    path.mkdir(parents=True, exist_ok=True)
    return path


def runs_dir(profile: str, name: str) -> Path:
    """Where training runs go: ``build/runs/<profile>/<name>`` (never in git); ``DGLNB_RUNS``
    overrides ``build/runs``."""
    return Path(os.environ.get("DGLNB_RUNS") or repo_root() / "build" / "runs") / profile / name


def dataset_root(data_root: Path | str | None, dataset: str) -> Path | None:
    """``DATA_ROOT/<dataset>``, the folder ``data_prep/<dataset>.py --out DATA_ROOT/<dataset>`` writes;
    None without a ``data_root`` (the embedded datasets need none)."""
    return None if data_root is None else Path(data_root) / dataset
