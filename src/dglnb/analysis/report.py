"""Tables and curves for the book: this run's numbers (``mean ± std`` over seeds) beside the paper's.

The notebooks' one import for them (``from dglnb.analysis import report``): the book table and its
caption, metric tables and the encoder measures here; how a number prints
(:mod:`~dglnb.analysis.table_cells`), the tables beside the paper (:mod:`~dglnb.analysis.versus_paper`)
and the curves read from run folders (:mod:`~dglnb.analysis.curves`) in their own modules, named here too.

The table functions take the ``summary`` that :func:`dglnb.train.cache.train_seeds` returns (metric
name, e.g. ``"test_score.multimodal"`` or ``"linear_probe.hard"``, -> ``{"mean", "std", "n"}``;
``test_score`` is the task's primary score: accuracy, or mIoU for segmentation) and the paper's
numbers from :mod:`dglnb.paper`. Scores are fractions in a summary and percentages in the paper;
the tables print both as percentages. A missing number prints as ``"-"``.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import pandas as pd

from .. import __version__
from .book_table import Table
from .curves import epoch_curves, phase_stats, run_costs
from .table_cells import MISSING, Summary, mean_std, mean_std_table, paper_value
from .versus_paper import (
    RANK_MARKS,
    heads_versus_paper,
    segmentation_versus_paper,
    sweep_versus_paper,
    versus_paper,
)

__all__ = [
    "MISSING",
    "RANK_MARKS",
    "RUN_SETTINGS",
    "Plain",
    "Summary",
    "encoder_measures",
    "epoch_curves",
    "heads_versus_paper",
    "mean_std",
    "mean_std_table",
    "measures_table",
    "metric_table",
    "paper_value",
    "phase_stats",
    "run_costs",
    "run_label",
    "run_settings",
    "score_metrics",
    "segmentation_versus_paper",
    "sweep_versus_paper",
    "table",
    "versus_paper",
]


class Plain:
    """Text that displays as itself, without quotes: for myst-nb ``glue`` of a formatted string."""

    def __init__(self, text: str) -> None:
        self.text = text

    def __repr__(self) -> str:
        return self.text


def table(
    frame: pd.DataFrame,
    title: str,
    profile: str | None = None,
    dataset: str | None = None,
    seeds: Sequence[int] | str | None = None,
) -> Table:
    """``frame`` as a book table captioned ``title`` and, for this run's numbers, the ``profile``,
    ``dataset``, ``seeds`` (a list, or words when rows differ) and the dglnb version."""
    if profile is not None:
        seeds = seeds if isinstance(seeds, str) else ", ".join(map(str, seeds or ()))
        title += f" ({profile} profile, {dataset}, seeds {seeds}; dglnb {__version__})"
    return Table(frame, title)


def run_label(profile: str, dataset: str, seeds: Sequence[int]) -> str:
    """Names a column of this run's numbers: profile, dataset and seeds."""
    return f"this run ({profile}, {dataset}, {len(seeds)} seed{'' if len(seeds) == 1 else 's'})"


def metric_table(
    summaries: Mapping[str, Summary], metrics: Mapping[str, str], digits: int = 1
) -> pd.DataFrame:
    """Rows: ``summaries``' labels; columns: ``metrics`` (column name -> metric name), ``mean ± std`` in %."""
    return pd.DataFrame(
        {
            col: [mean_std(s.get(metric), digits=digits) for s in summaries.values()]
            for col, metric in metrics.items()
        },
        index=list(summaries),
    )


def score_metrics(modalities: Sequence[str], probe: bool = True) -> dict[str, str]:
    """The usual columns: the multimodal test score (accuracy, or mIoU), each modality's through the
    shared head with the others zeroed, and (if ``probe``) each modality's linear probe on frozen features."""
    metrics = {"multimodal": "test_score.multimodal"}
    metrics |= {f"{m} (zeroed head)": f"test_score.{m}" for m in modalities}
    if probe:
        metrics |= {f"{m} (linear probe)": f"linear_probe.{m}" for m in modalities}
    return metrics


def encoder_measures(
    methods: Mapping[str, Summary], alone: Summary, modalities: Sequence[str]
) -> dict[str, dict[str, Mapping[str, float] | None]]:
    """Three measures of each modality's encoder, ``{measure: {modality: stats}}``: the model of that
    modality trained alone (``alone``, the paper's unimodal baseline), and inside each multimodal
    model of ``methods`` the shared head with the other modalities zeroed and a linear probe on
    frozen features. :func:`measures_table` prints it, :func:`dglnb.analysis.method_plots.measure_bars` draws it."""
    measures = {"trained alone": {m: alone.get(f"test_score.{m}") for m in modalities}}
    for method, summary in methods.items():
        measures[f"{method}: zeroed head"] = {m: summary.get(f"test_score.{m}") for m in modalities}
        measures[f"{method}: linear probe"] = {
            m: summary.get(f"linear_probe.{m}") for m in modalities
        }
    return measures


def measures_table(
    measures: Mapping[str, Mapping[str, Mapping[str, float] | None]],
) -> pd.DataFrame:
    """``{column: {row: stats}}`` as a table of ``mean ± std`` in %."""
    return pd.DataFrame(
        {
            col: {row: mean_std(stats) for row, stats in rows.items()}
            for col, rows in measures.items()
        }
    )


RUN_SETTINGS = (
    "dataset",
    "fusion",
    "profile",
    "width",
    "optimizer",
    "lr",
    "batch_size",
    "epochs",
    "milestones",
    "alpha",
    "selection",
)


def run_settings(config: object) -> str:
    """The settings that define a chapter's runs, one line (from a resolved TrainConfig)."""
    return ", ".join(f"{name}={getattr(config, name)!r}" for name in RUN_SETTINGS)
