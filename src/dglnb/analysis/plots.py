"""Figures for the book: one consistent style, saved per profile and shown, never compared byte for byte."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import TYPE_CHECKING, Mapping, Sequence

import matplotlib.pyplot as plt
import pandas as pd

from ..paths import figures_dir

if TYPE_CHECKING:
    import numpy as np
    import torch

plt.rcParams.update({"figure.dpi": 110, "axes.spines.top": False, "axes.spines.right": False, "font.size": 9})


def save_figure(fig: plt.Figure, name: str, profile: str) -> Path:
    """Save ``fig`` as ``book/figures/<profile>/<name>.png`` and return the path."""
    path = figures_dir(profile) / f"{name}.png"
    fig.savefig(path, bbox_inches="tight")
    return path


def glue_figure(fig: plt.Figure, name: str, profile: str) -> Path:
    """Save ``fig`` (:func:`save_figure`) and glue it under ``name`` for a ``{glue:figure}`` in the
    chapter's text, which numbers and captions it; the cell itself shows nothing."""
    from myst_nb import glue

    path = save_figure(fig, name, profile)
    glue(name, fig, display=False)
    plt.close(fig)
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


def curve_panels(panels: Sequence[tuple[str, dict[str, pd.DataFrame]]], ylabel: Sequence[str] | str,
                 log: Sequence[bool] | bool = False, ncols: int | None = None) -> plt.Figure:
    """One axis per ``(title, {label: curves})`` panel, each curve a :func:`seed_band` against the epoch.

    ``log`` (one flag, or one per panel) puts an axis on a log scale; ``ylabel`` (one label, or one
    per panel) labels the y axes. Long titles wrap to the panel's width.
    """
    ncols = ncols or len(panels)
    nrows = -(-len(panels) // ncols)
    logs = [log] * len(panels) if isinstance(log, bool) else list(log)
    ylabels = [ylabel] * len(panels) if isinstance(ylabel, str) else list(ylabel)
    fig, axes = plt.subplots(nrows, ncols, figsize=(3.8 * ncols, 3.0 * nrows), squeeze=False)
    for ax, ((title, curves), is_log, label_y) in zip(axes.flat, zip(panels, logs, ylabels, strict=True)):
        for label, frame in curves.items():
            seed_band(ax, frame, label)
        ax.set(title=textwrap.fill(title, 40), xlabel="epoch", ylabel=label_y,
               yscale="log" if is_log else "linear")
        ax.legend(frameon=False, fontsize=7)
    for ax in list(axes.flat)[len(panels):]:
        ax.remove()
    fig.tight_layout()
    return fig


def measure_bars(measures: Mapping[str, Mapping[str, Mapping[str, float] | None]], ylabel: str,
                 scale: float = 100.0) -> plt.Figure:
    """Grouped bars, one group per row and one bar per measure, of ``{measure: {row: stats}}`` (e.g.
    :func:`dglnb.analysis.report.encoder_measures`): the mean, with the seed std as an error bar."""
    def frame(key: str) -> pd.DataFrame:
        return pd.DataFrame({m: {r: (s or {}).get(key, float("nan")) * scale for r, s in rows.items()}
                             for m, rows in measures.items()})

    fig, ax = plt.subplots(figsize=(7.5, 3.0))
    frame("mean").plot.bar(yerr=frame("std"), ax=ax, rot=0, capsize=2, width=0.8)
    ax.set(ylabel=ylabel, xlabel="")
    ax.legend(frameon=False, fontsize=7, ncols=2, loc="lower right")
    fig.tight_layout()
    return fig


def seed_dots(panels: Mapping[str, tuple[Mapping[str, Sequence[float]], Mapping[str, float | None]]],
              xlabel: str, reference_label: str = "paper") -> plt.Figure:
    """One axis per ``title: (values, reference)`` panel, one row per method (top to bottom in order):
    each seed's value as a dot, their mean as a bar, and the ``reference`` number (None: none) as an
    open diamond on the same axis."""
    rows = max(len(values) for values, _ in panels.values())
    fig, axes = plt.subplots(1, len(panels), figsize=(4.2 * len(panels), 0.32 * rows + 1.2), squeeze=False)
    for ax, (title, (values, reference)) in zip(axes.flat, panels.items()):
        labels = {"this run, one seed", "this run, mean", reference_label}  # each labelled once

        def label(text: str) -> str | None:
            if text not in labels:
                return None
            labels.remove(text)
            return text

        for row, (method, seeds) in enumerate(values.items()):
            ax.plot(seeds, [row] * len(seeds), "o", color="C0", alpha=0.6, markersize=4,
                    label=label("this run, one seed"))
            ax.plot([sum(seeds) / len(seeds)] * 2, [row - 0.3, row + 0.3], color="C0", linewidth=2,
                    label=label("this run, mean"))
            if reference.get(method) is not None:
                ax.plot(reference[method], row, "D", markerfacecolor="none", color="C3", label=label(reference_label))
        ax.set(yticks=range(len(values)), yticklabels=list(values), ylim=(len(values) - 0.5, -0.5), xlabel=xlabel,
               title=title)
        ax.grid(axis="x", alpha=0.3)
        ax.legend(frameon=False, fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.13), ncols=3)
    fig.tight_layout()
    return fig


def segmentation_examples(dataset, models: Mapping[str, "torch.nn.Module"], indices: Sequence[int]) -> plt.Figure:
    """One row per scene ``indices`` of an RGB-D segmentation ``dataset``: the colour image, the depth
    (0 = missing), the ground truth and each model's prediction (arg-max of its multimodal logits,
    models in eval mode). Unlabelled pixels are white in the ground truth; classes are named in a
    legend when the dataset names them."""
    import numpy as np
    import torch
    from matplotlib.colors import ListedColormap
    from matplotlib.patches import Patch

    from ..data.nyuv2 import IMAGENET_MEAN, IMAGENET_STD

    items = [dataset[i] for i in indices]
    batch = {m: torch.stack([item[m] for item in items]) for m in ("rgb", "depth")}
    with torch.no_grad():
        predictions = {name: model.eval()(batch).argmax(dim=1).numpy() for name, model in models.items()}
    num_classes = dataset.info.num_classes
    colours = ListedColormap(plt.get_cmap("tab10" if num_classes <= 10 else "tab20b", num_classes)(range(num_classes)))
    colours.set_bad("white")
    rgb = (batch["rgb"] * torch.tensor(IMAGENET_STD).view(1, 3, 1, 1) + torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1))
    columns = ["RGB", "depth", "ground truth", *models]
    fig, axes = plt.subplots(len(items), len(columns), figsize=(1.6 * len(columns), 1.6 * len(items)), squeeze=False)
    for row, item in enumerate(items):
        label = np.ma.masked_greater_equal(item["label"].numpy(), num_classes)
        panels = [(rgb[row].permute(1, 2, 0).clamp(0, 1).numpy(), {}),
                  (item["depth"][0].numpy(), {"cmap": "viridis"}), (label, {"cmap": colours})]
        panels += [(predictions[name][row], {"cmap": colours}) for name in models]
        for ax, (image, style), title in zip(axes[row], panels, columns):
            if style.get("cmap") is colours:
                style = {**style, "vmin": -0.5, "vmax": num_classes - 0.5}
            ax.imshow(image, interpolation="nearest", **style)
            ax.set_xticks([]), ax.set_yticks([])
            if row == 0:
                ax.set_title(title)
    if dataset.info.class_names:
        fig.legend([Patch(color=colours(k)) for k in range(num_classes)], dataset.info.class_names, loc="lower center",
                   ncol=num_classes, frameon=False, bbox_to_anchor=(0.5, -0.02))
    fig.tight_layout(rect=(0, 0.04, 1, 1))
    return fig
