"""Figures for the book: one consistent style, saved per profile and shown, never compared byte for byte."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt

from .paths import figures_dir

plt.rcParams.update({"figure.dpi": 110, "axes.spines.top": False, "axes.spines.right": False, "font.size": 9})


def save_figure(fig: plt.Figure, name: str, profile: str) -> Path:
    """Save ``fig`` as ``book/figures/<profile>/<name>.png`` and return the path."""
    path = figures_dir(profile) / f"{name}.png"
    fig.savefig(path, bbox_inches="tight")
    return path
