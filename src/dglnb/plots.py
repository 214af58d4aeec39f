"""Figures for the book: one consistent style, saved per profile and shown, never compared byte for byte."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Mapping, Sequence

import matplotlib.pyplot as plt
import pandas as pd

from .paths import figures_dir

if TYPE_CHECKING:
    import numpy as np

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


def seed_band(ax: plt.Axes, curves: pd.DataFrame, label: str, **style) -> None:
    """The mean over runs (columns) of per-epoch curves, with a min-max band across runs."""
    line, = ax.plot(curves.index, curves.mean(axis=1), label=label, **style)
    ax.fill_between(curves.index, curves.min(axis=1), curves.max(axis=1), color=line.get_color(), alpha=0.2,
                    linewidth=0)


def curve_panels(panels: Sequence[tuple[str, dict[str, pd.DataFrame]]], ylabel: Sequence[str] | str | None = None,
                 log: Sequence[bool] | bool = False, ncols: int | None = None) -> plt.Figure:
    """One axis per ``(title, {label: curves})`` panel, each curve a :func:`seed_band` against the epoch.

    ``log`` (one flag, or one per panel) puts an axis on a log scale; ``ylabel`` (one label, or one
    per panel) labels the y axes.
    """
    ncols = ncols or len(panels)
    nrows = -(-len(panels) // ncols)
    logs = [log] * len(panels) if isinstance(log, bool) else list(log)
    ylabels = [ylabel] * len(panels) if ylabel is None or isinstance(ylabel, str) else list(ylabel)
    fig, axes = plt.subplots(nrows, ncols, figsize=(3.6 * ncols, 2.8 * nrows), squeeze=False)
    for ax, (title, curves), is_log, label_y in zip(axes.flat, panels, logs, ylabels, strict=False):
        for label, frame in curves.items():
            seed_band(ax, frame, label)
        ax.set(title=title, xlabel="epoch", ylabel=label_y or "", yscale="log" if is_log else "linear")
        ax.legend(frameon=False, fontsize=7)
    for ax in list(axes.flat)[len(panels):]:
        ax.remove()
    fig.tight_layout()
    return fig


def measure_bars(measures: Mapping[str, Mapping[str, Mapping[str, float] | None]], ylabel: str,
                 scale: float = 100.0) -> plt.Figure:
    """Grouped bars, one group per row and one bar per measure, of ``{measure: {row: stats}}`` (e.g.
    :func:`dglnb.report.encoder_measures`): the mean, with the seed std as an error bar."""
    def frame(key: str) -> pd.DataFrame:
        return pd.DataFrame({m: {r: (s or {}).get(key, float("nan")) * scale for r, s in rows.items()}
                             for m, rows in measures.items()})

    fig, ax = plt.subplots(figsize=(7.5, 3.0))
    frame("mean").plot.bar(yerr=frame("std"), ax=ax, rot=0, capsize=2, width=0.8)
    ax.set(ylabel=ylabel, xlabel="")
    ax.legend(frameon=False, fontsize=7, ncols=2, loc="lower right")
    fig.tight_layout()
    return fig
