"""Figures of per-method numbers, one panel or group per dataset or encoder: every seed beside the
mean and its spread (:func:`seed_dots`, Table 1 and Table 3/4 style), or the mean and the seed
standard deviation as bars when only a summary is at hand (:func:`measure_bars`). Drawn with
seaborn in the book's style (:func:`dglnb.figure_style.style`); :mod:`dglnb.analysis.plots` saves
them.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns

from ..figure_style import style


def _figure_legend(fig: plt.Figure, height: float) -> None:
    """One legend below the figure's axes, ``height`` inches tall, with one entry per label of all
    axes (seaborn labels the artist of each category alike)."""
    entries: dict[str, plt.Artist] = {}
    for ax in fig.axes:
        for handle, label in zip(*ax.get_legend_handles_labels()):
            entries.setdefault(label, handle)
    fig.legend(entries.values(), entries.keys(), loc="lower center", ncols=len(entries), fontsize=7)
    fig.tight_layout(rect=(0, height / fig.get_figheight(), 1, 1))


def measure_bars(
    measures: Mapping[str, Mapping[str, Mapping[str, float] | None]],
    ylabel: str,
    scale: float = 100.0,
) -> plt.Figure:
    """Grouped bars, one group per row and one bar per measure, of ``{measure: {row: stats}}`` (e.g.
    :func:`dglnb.analysis.report.encoder_measures`): the mean, with the seed std as an error bar. A
    missing entry (None) leaves its bar out."""
    rows = list(dict.fromkeys(row for by_row in measures.values() for row in by_row))
    stats = pd.DataFrame(
        [
            {
                "row": row,
                "measure": measure,
                "mean": s["mean"] * scale,
                "std": s.get("std", float("nan")) * scale,
            }
            for measure, by_row in measures.items()
            for row, s in by_row.items()
            if s
        ]
    )
    if stats.empty:
        raise ValueError("measure_bars: every entry is None; pass at least one row's stats")
    with style():
        fig, ax = plt.subplots(figsize=(7.5, 3.0))
        sns.barplot(
            stats,
            x="row",
            y="mean",
            hue="measure",
            order=rows,
            hue_order=list(measures),
            errorbar=None,
            width=0.8,
            ax=ax,
        )
        spread = stats.set_index(["measure", "row"])["std"]
        for measure, bars in zip(measures, ax.containers):  # one container per measure, in order
            for bar in bars:
                row = rows[round(bar.get_x() + bar.get_width() / 2)]
                ax.errorbar(
                    bar.get_x() + bar.get_width() / 2,
                    bar.get_height(),
                    yerr=spread[measure, row],
                    color="0.2",
                    linewidth=0.8,
                    capsize=2,
                )
        ax.set(ylabel=ylabel, xlabel="")
        sns.move_legend(ax, "upper left", bbox_to_anchor=(1, 1), title=None, fontsize=7)
        fig.tight_layout()
    return fig


def seed_dots(
    panels: Mapping[str, tuple[Mapping[str, Sequence[float]], Mapping[str, float | None]]],
    xlabel: str,
    reference_label: str = "paper",
) -> plt.Figure:
    """One axis per ``title: (values, reference)`` panel, one row per method (top to bottom in order):
    each seed's value as a dot, their mean as a bar with the seed standard deviation as a whisker,
    and the ``reference`` number (None: none) as an open diamond on the same axis; one legend below
    the panels."""
    rows = max(len(values) for values, _ in panels.values())
    with style():
        fig, axes = plt.subplots(
            1, len(panels), figsize=(4.2 * len(panels), 0.32 * rows + 1.2), squeeze=False
        )
        for ax, (title, (values, reference)) in zip(axes.flat, panels.items()):
            order = list(values)
            seeds = pd.DataFrame(
                [{"method": method, "value": float(v)} for method, vs in values.items() for v in vs]
            )
            sns.stripplot(
                seeds,
                x="value",
                y="method",
                order=order,
                color="C0",
                alpha=0.6,
                size=4,
                jitter=0.15,
                label="this run, one seed",
                legend=False,
                ax=ax,
            )
            sns.pointplot(
                seeds,
                x="value",
                y="method",
                order=order,
                estimator="mean",
                errorbar="sd",
                color="C0",
                markers="|",
                markersize=14,
                linestyle="none",
                label="this run, mean ± std",
                legend=False,
                ax=ax,
            )
            marked = [
                (reference[m], row) for row, m in enumerate(order) if reference.get(m) is not None
            ]
            if marked:
                ax.plot(
                    *zip(*marked),
                    "D",
                    markerfacecolor="none",
                    color="C3",
                    linestyle="none",
                    label=reference_label,
                )
            ax.set(xlabel=xlabel, ylabel="", title=title)
            ax.grid(axis="x", alpha=0.3)
        _figure_legend(fig, height=0.25)
    return fig
