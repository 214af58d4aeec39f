"""Training dynamics read back from run folders: the gradient sizes and s of ``diagnostics.csv``
(measured by :mod:`dglnb.train.gradients`; the paper's Fig. 1c and Fig. 3), as curves, phases and figures."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Mapping, Sequence

from ..figure_style import style
from .curves import epoch_curves, phase_stats
from .table_cells import mean_std_table

if TYPE_CHECKING:
    import pandas
    from matplotlib.figure import Figure


def plot_dynamics(csv_paths: Mapping[str, Path], path: Path | None = None) -> Figure:
    """Fig. 3-style panels from ``diagnostics.csv`` files (``{label: path}``, e.g. per method).

    Columns: s per modality, then the multimodal and the unimodal gradient at each encoder, against
    the epoch (step-level values averaged per epoch). Returns the figure; saves it to ``path`` if given.
    """
    import matplotlib.pyplot as plt
    import pandas as pd

    frames = {
        label: pd.read_csv(p).groupby(["modality", "epoch"]).mean(numeric_only=True)
        for label, p in csv_paths.items()
    }
    modalities = list(
        dict.fromkeys(m for f in frames.values() for m in f.index.get_level_values("modality"))
    )
    panels = [
        ("s_mean", "mean s (k != y)"),
        ("grad_multimodal", "|grad| from multimodal loss"),
        ("grad_unimodal", "|grad| from unimodal loss"),
    ]
    with style():
        fig, axes = plt.subplots(
            len(modalities),
            len(panels),
            squeeze=False,
            sharex=True,
            figsize=(4 * len(panels), 2.8 * len(modalities)),
        )
        for row, m in enumerate(modalities):
            for col, (column, title) in enumerate(panels):
                ax = axes[row, col]
                for label, frame in frames.items():
                    if m in frame.index.get_level_values("modality"):
                        series = frame.loc[m, column]
                        ax.plot(series.index, series.values, label=label)
                ax.set_title(f"{m}: {title}", fontsize=9)
                if column != "s_mean":
                    ax.set_yscale("log")
                if row == len(modalities) - 1:
                    ax.set_xlabel("epoch")
        axes[0, 0].legend(fontsize=8)
        fig.tight_layout()
        if path is not None:
            fig.savefig(path, dpi=150)
    return fig


def gradient_ratio_curves(run_dirs: list[Path], modality: str) -> pandas.DataFrame:
    """``grad_multimodal / grad_unimodal`` at ``modality``'s encoder per epoch, one column per run."""
    multi = epoch_curves(run_dirs, "grad_multimodal", "diagnostics.csv", modality)
    return multi / epoch_curves(run_dirs, "grad_unimodal", "diagnostics.csv", modality)


def _modalities(run_dir: Path) -> list[str]:
    import pandas as pd

    return list(dict.fromkeys(pd.read_csv(Path(run_dir) / "diagnostics.csv")["modality"]))


def plot_gradient_ratio(run_dirs: list[Path], title: str = "") -> Figure:
    """:func:`gradient_ratio_curves` per encoder against the epoch, one thin line per run (e.g. per
    seed) and their mean thick; eq. 8 says the ratio stays below 1."""
    import matplotlib.pyplot as plt

    with style():
        fig, ax = plt.subplots(figsize=(6, 3))
        for i, m in enumerate(_modalities(run_dirs[0])):
            ratios = gradient_ratio_curves(run_dirs, m)
            ax.plot(ratios.index, ratios.values, color=f"C{i}", alpha=0.3, linewidth=0.8)
            ax.plot(
                ratios.index, ratios.mean(axis=1), color=f"C{i}", linewidth=2, label=f"encoder {m}"
            )
        ax.axhline(1, color="k", linewidth=0.8, linestyle="--")
        ax.set(
            yscale="log", xlabel="epoch", ylabel="|grad multimodal| / |grad unimodal|", title=title
        )
        ax.legend()
    return fig


def gradient_ratio_by_epoch(run_dirs: list[Path], epochs: list[int]) -> pandas.DataFrame:
    """:func:`gradient_ratio_curves` at the given epochs (negative counts from the end), one row per
    encoder, "mean ± std" over runs."""
    rows = []
    for m in _modalities(run_dirs[0]):
        ratios = gradient_ratio_curves(run_dirs, m)
        rows += [
            {"encoder": m, **{f"epoch {ratios.index[e]}": ratios[run].iloc[e] for e in epochs}}
            for run in ratios
        ]
    return mean_std_table(rows, by="encoder")


def ratio_by_phase(
    runs: Sequence[Path], modality: str, early: int = 5, late: int = 10
) -> dict[str, dict[str, float]]:
    """:func:`~dglnb.analysis.curves.phase_stats` of ``|g^Multi| / |g^Uni|`` at ``modality``'s encoder
    (per-epoch means from ``diagnostics.csv``)."""
    return phase_stats(gradient_ratio_curves(list(runs), modality), early, late)
