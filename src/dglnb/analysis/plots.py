"""Figures for the book, drawn with seaborn in one style (:func:`~dglnb.figure_style.style`,
applied inside each function and while saving, never to matplotlib's global settings); saved per
profile and shown, never compared byte for byte.

The statistical figures show the seeds themselves beside their summary: curves as the mean over
seeds with a band from the smallest to the largest seed (:func:`seed_band`, :func:`curve_panels`),
per-method numbers as one dot per seed with the mean and the seed standard deviation
(:func:`~dglnb.analysis.method_plots.seed_dots`), summaries as bars with the seed standard
deviation (:func:`~dglnb.analysis.method_plots.measure_bars`; both importable from here), and grids
(an α sweep, a per-class IoU table) as annotated heatmaps (:func:`heatmap`).
"""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import TYPE_CHECKING, Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from ..figure_style import style
from ..paths import figures_dir
from .method_plots import measure_bars, seed_dots

if TYPE_CHECKING:
    import torch

__all__ = [
    "style",
    "save_figure",
    "glue_figure",
    "ratio_histograms",
    "seed_band",
    "curve_panels",
    "measure_bars",
    "seed_dots",
    "heatmap",
    "segmentation_examples",
]


def save_figure(fig: plt.Figure, name: str, profile: str) -> Path:
    """Save ``fig`` as ``book/figures/<profile>/<name>.png`` and return the path."""
    path = figures_dir(profile) / f"{name}.png"
    with style():  # tick labels added when the figure is drawn again read the style's sizes
        fig.savefig(path, bbox_inches="tight")
    return path


def glue_figure(fig: plt.Figure, name: str, profile: str) -> Path:
    """Save ``fig`` (:func:`save_figure`) and glue it under ``name`` for a ``{glue:figure}`` in the
    chapter's text, which numbers and captions it; the cell itself shows nothing."""
    from myst_nb import glue

    path = save_figure(fig, name, profile)
    with style():
        glue(name, fig, display=False)
    plt.close(fig)
    return path


def ratio_histograms(ratios: dict[str, np.ndarray], title: str) -> plt.Figure:
    """One histogram of ``log10 |g^Multi| / |g^Uni|`` per named set; eq. 8 claims all mass left of 0."""
    bins = np.linspace(-4, 2, 61)
    sets = []
    for name, r in ratios.items():
        logs = np.clip(np.log10(np.asarray(r, dtype=float)), bins[0], bins[-1])
        sets.append(
            pd.DataFrame({"log_ratio": logs, "set": f"{name} ({(logs < 0).mean():.0%} < 0)"})
        )
    with style():
        fig, ax = plt.subplots(figsize=(6, 3))
        sns.histplot(
            pd.concat(sets, ignore_index=True),
            x="log_ratio",
            hue="set",
            bins=bins,
            element="step",
            fill=False,
            linewidth=1.5,
            ax=ax,
        )
        ax.axvline(0, color="k", linewidth=0.8, linestyle="--")
        ax.set(xlabel=r"$\log_{10}\,|g^{Multi}| / |g^{Uni}|$", ylabel="samples", title=title)
        sns.move_legend(ax, "best", title=None)
    return fig


def seed_band(ax: plt.Axes, curves: pd.DataFrame, label: str, **line_options) -> None:
    """The mean over runs (columns) of per-epoch curves (index: epoch), with a band from the
    smallest to the largest run at each epoch; ``line_options`` go to the line (e.g. ``color``)."""
    long = pd.DataFrame(
        {
            "epoch": np.repeat(curves.index.to_numpy(), curves.shape[1]),
            "value": curves.to_numpy(dtype=float).ravel(),
        }
    )
    sns.lineplot(
        long,
        x="epoch",
        y="value",
        estimator="mean",
        errorbar=lambda values: (values.min(), values.max()),
        label=label,
        ax=ax,
        **line_options,
    )


def curve_panels(
    panels: Sequence[tuple[str, dict[str, pd.DataFrame]]],
    ylabel: Sequence[str] | str,
    log: Sequence[bool] | bool = False,
    ncols: int | None = None,
) -> plt.Figure:
    """One axis per ``(title, {label: curves})`` panel, each curve a :func:`seed_band` against the epoch.

    ``log`` (one flag, or one per panel) puts an axis on a log scale; ``ylabel`` (one label, or one
    per panel) labels the y axes. Long titles wrap to the panel's width.
    """
    ncols = ncols or len(panels)
    nrows = -(-len(panels) // ncols)
    logs = [log] * len(panels) if isinstance(log, bool) else list(log)
    ylabels = [ylabel] * len(panels) if isinstance(ylabel, str) else list(ylabel)
    with style():
        fig, axes = plt.subplots(nrows, ncols, figsize=(3.8 * ncols, 3.0 * nrows), squeeze=False)
        for ax, ((title, curves), is_log, label_y) in zip(
            axes.flat, zip(panels, logs, ylabels, strict=True)
        ):
            for label, frame in curves.items():
                seed_band(ax, frame, label)
            ax.set(
                title=textwrap.fill(title, 40),
                xlabel="epoch",
                ylabel=label_y,
                yscale="log" if is_log else "linear",
            )
            ax.legend(fontsize=7)
        for ax in list(axes.flat)[len(panels) :]:
            ax.remove()
        fig.tight_layout()
    return fig


def heatmap(
    frame: pd.DataFrame,
    title: str = "",
    xlabel: str | None = None,
    ylabel: str | None = None,
    value_label: str = "",
    fmt: str = ".1f",
    cmap: str | None = None,
    center: float | None = None,
) -> plt.Figure:
    """``frame`` as a grid of cells coloured by value and written with ``fmt`` (rows down, columns
    across): e.g. test accuracy (%) with one row per dataset and one column per α of a sweep, or the
    IoU (%) of each class (rows) for each model (columns). Empty (NaN) cells stay blank.

    The axes are labelled ``xlabel`` and ``ylabel``, by default the names of ``frame.columns`` and
    ``frame.index``; ``value_label`` names the colour bar. The colours run from ``cmap`` (default
    ``viridis``); with ``center`` (e.g. 0 for differences) a diverging map (default ``vlag``) has its
    middle at that value.
    """
    xlabel = xlabel if xlabel is not None else frame.columns.name
    ylabel = ylabel if ylabel is not None else frame.index.name
    if frame.empty:
        raise ValueError(
            "heatmap: the frame has no cells; pass a table with at least one row and column"
        )
    if not xlabel or not ylabel:
        raise ValueError(
            "heatmap: unnamed axes; pass xlabel= and ylabel=, or name frame.columns and "
            "frame.index (frame.rename_axis(index=..., columns=...))"
        )
    try:
        values = frame.astype(float)
    except (TypeError, ValueError) as error:
        raise ValueError(
            f"heatmap: every cell must be a number ({error}); plot the numbers, not "
            "formatted strings such as '87.9 ± 1.3'"
        ) from error
    rows, cols = values.shape
    cell_width = max(
        0.65, 0.075 * max(len(str(c)) for c in values.columns)
    )  # inches, fits the labels
    with style():
        fig, ax = plt.subplots(figsize=(1.6 + cell_width * cols, 1.0 + 0.3 * rows))
        sns.heatmap(
            values,
            annot=True,
            fmt=fmt,
            cmap=cmap or ("viridis" if center is None else "vlag"),
            center=center,
            linewidths=0.5,
            cbar_kws={"label": value_label},
            annot_kws={"fontsize": 7},
            ax=ax,
        )
        ax.set(xlabel=xlabel, ylabel=ylabel, title=title)
        ax.tick_params(axis="y", rotation=0)
        fig.tight_layout()
    return fig


def segmentation_examples(
    dataset, models: Mapping[str, torch.nn.Module], indices: Sequence[int]
) -> plt.Figure:
    """One row per scene ``indices`` of an RGB-D segmentation ``dataset``: the colour image, the depth
    (0 = missing), the ground truth and each model's prediction (arg-max of its multimodal logits,
    models in eval mode). Unlabelled pixels are white in the ground truth; classes are named in a
    legend when the dataset names them."""
    import torch
    from matplotlib.colors import ListedColormap
    from matplotlib.patches import Patch

    from ..data.nyuv2 import IMAGENET_MEAN, IMAGENET_STD

    items = [dataset[i] for i in indices]
    batch = {m: torch.stack([item[m] for item in items]) for m in ("rgb", "depth")}
    with torch.no_grad():
        predictions = {
            name: model.eval()(batch).argmax(dim=1).numpy() for name, model in models.items()
        }
    num_classes = dataset.info.num_classes
    palette = plt.get_cmap("tab10" if num_classes <= 10 else "tab20b", num_classes)(
        range(num_classes)
    )
    colours = ListedColormap(palette).with_extremes(bad="white")
    rgb = batch["rgb"] * torch.tensor(IMAGENET_STD).view(1, 3, 1, 1) + torch.tensor(
        IMAGENET_MEAN
    ).view(1, 3, 1, 1)
    columns = ["RGB", "depth", "ground truth", *models]
    with style():
        fig, axes = plt.subplots(
            len(items), len(columns), figsize=(1.6 * len(columns), 1.6 * len(items)), squeeze=False
        )
        for row, item in enumerate(items):
            label = np.ma.masked_greater_equal(item["label"].numpy(), num_classes)
            panels = [
                (rgb[row].permute(1, 2, 0).clamp(0, 1).numpy(), {}),
                (item["depth"][0].numpy(), {"cmap": "viridis"}),
                (label, {"cmap": colours}),
            ]
            panels += [(predictions[name][row], {"cmap": colours}) for name in models]
            for ax, (image, options), title in zip(axes[row], panels, columns):
                if options.get("cmap") is colours:
                    options = {**options, "vmin": -0.5, "vmax": num_classes - 0.5}
                ax.imshow(image, interpolation="nearest", **options)
                ax.set(xticks=[], yticks=[])
                if row == 0:
                    ax.set_title(title)
        if dataset.info.class_names:
            fig.legend(
                [Patch(color=colours(k)) for k in range(num_classes)],
                dataset.info.class_names,
                loc="lower center",
                ncol=num_classes,
                bbox_to_anchor=(0.5, -0.02),
            )
        fig.tight_layout(rect=(0, 0.04, 1, 1))
    return fig
