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


def ratio_histograms(ratios: dict[str, "np.ndarray"], title: str) -> plt.Figure:
    """One histogram of ``log10 |g^Multi| / |g^Uni|`` per named set; eq. 8 claims all mass left of 0."""
    import numpy as np

    fig, ax = plt.subplots(figsize=(6, 3))
    bins = np.linspace(-4, 2, 61)
    for name, r in ratios.items():
        logs = np.clip(np.log10(np.asarray(r)), bins[0], bins[-1])
        ax.hist(logs, bins=bins, histtype="step", linewidth=1.5, label=f"{name} ({(logs < 0).mean():.0%} < 0)")
    ax.axvline(0, color="k", linewidth=0.8, linestyle="--")
    ax.set(xlabel=r"$\log_{10}\,|g^{Multi}| / |g^{Uni}|$", ylabel="samples", title=title)
    ax.legend(frameon=False)
    return fig
