"""Tables and curves for the book: this run's numbers (``mean ± std`` over seeds) beside the paper's.

The table functions take the ``summary`` that :func:`dglnb.train.cache.train_seeds` returns (metric
name, e.g. ``"test_score.multimodal"`` or ``"linear_probe.hard"``, -> ``{"mean", "std", "n"}``;
``test_score`` is the task's primary score: accuracy, or mIoU for segmentation) and the paper's
numbers from :mod:`dglnb.paper`. Scores are fractions in a summary and percentages in the paper;
the tables print both as percentages. A missing number prints as ``"-"``.
The curve functions read run folders' ``history.csv`` and ``diagnostics.csv`` (one run per seed).
"""

from __future__ import annotations

from pathlib import Path
from typing import Hashable, Mapping, Sequence

import pandas as pd

from .. import __version__
from .book_table import Table

Summary = Mapping[str, Mapping[str, float]]
MISSING = "-"
RANK_MARKS = (" (1st)", " (2nd)")  #: the best and the second-best number of a column


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


def mean_std(stats: Mapping[str, float] | None, scale: float = 100.0, digits: int = 1) -> str:
    """``"87.9 ± 1.3"`` from one summary entry (scaled, e.g. fractions to percent); ``"87.9"`` for a
    single run (no spread to report); ``"-"`` if None."""
    if stats is None:
        return MISSING
    if stats.get("n") == 1:
        return f"{stats['mean'] * scale:.{digits}f}"
    return f"{stats['mean'] * scale:.{digits}f} ± {stats['std'] * scale:.{digits}f}"


def mean_std_table(
    rows: Sequence[Mapping[str, float | str]], by: str, digits: int = 3
) -> pd.DataFrame:
    """Group ``rows`` by column ``by``; every other column becomes ``"mean ± std"`` (population std)."""
    grouped = pd.DataFrame(rows).groupby(by, sort=False)
    fmt = f"{{:.{digits}f}}".format
    return grouped.mean().map(fmt) + " ± " + grouped.std(ddof=0).map(fmt)


def paper_value(value: float | None, digits: int = 2) -> str:
    """A paper number as printed (a percentage), ``"-"`` if the paper has none."""
    return MISSING if value is None else f"{value:.{digits}f}"


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


def versus_paper(
    summaries: Mapping[Hashable, Summary],
    paper: Mapping[Hashable, float | None],
    ours: str,
    theirs: str = "paper (CREMA-D)",
    metric: str = "test_score.multimodal",
    names: Mapping[Hashable, str] | None = None,
) -> pd.DataFrame:
    """One row per key of ``paper`` (in its order): this run's ``metric`` (column ``ours``) and the
    paper's number (column ``theirs``). ``names`` relabels the rows (e.g. ``"dgl_mt"`` -> ``"+MT"``)."""
    names = names or {}
    rows = {
        names.get(key, str(key)): {
            ours: mean_std(summaries[key].get(metric) if key in summaries else None),
            theirs: paper_value(value),
        }
        for key, value in paper.items()
    }
    return pd.DataFrame.from_dict(rows, orient="index")


def sweep_versus_paper(
    summaries: Mapping[str, Mapping[Hashable, Summary]],
    paper: Mapping[str, Mapping[Hashable, float | None]],
    ours: str,
    theirs: str = "paper (CREMA-D)",
    metric: str = "test_score.multimodal",
    names: Mapping[str, str] | None = None,
) -> pd.DataFrame:
    """A hyperparameter sweep (e.g. Table 4's alpha) as two rows per method, this run and the paper.

    ``summaries[method][value]`` and ``paper[method][value]``; ``names`` maps this run's method
    names to the paper's (e.g. ``{"joint_aux": "gblending"}``). Columns: the paper's sweep values.
    """
    names = names or {}
    rows = {}
    for method, runs in summaries.items():
        reference = paper.get(names.get(method, method), {})
        values = list(dict.fromkeys([*reference, *runs]))
        rows[(method, ours)] = {
            v: mean_std(runs[v].get(metric) if v in runs else None) for v in values
        }
        rows[(method, theirs)] = {v: paper_value(reference.get(v)) for v in values}
    table = pd.DataFrame.from_dict(rows, orient="index").fillna(MISSING)
    table.index.names = ["method", "source"]
    return table


def heads_versus_paper(
    summaries: Mapping[str, Summary],
    paper: Mapping[str, Sequence[float | None]],
    heads: Mapping[str, str],
    ours: str,
    theirs: str = "paper (CREMA-D)",
    ranked: Sequence[str] = (),
) -> pd.DataFrame:
    """Table 1-style rows (one per method in ``summaries``), each head's test score, ours and the paper's.

    ``heads`` maps this run's head names (``"multimodal"``, a modality) to column names, in the
    order of the paper's tuples: ``paper[method]`` lists one number (or None) per head. Among the
    rows ``ranked``, each column's best and second-best number (ours by mean) is marked
    (:data:`RANK_MARKS`), as the paper marks them in bold and underlined.
    """
    columns = pd.MultiIndex.from_product([list(heads.values()), [ours, theirs]])
    rows, numbers = [], []
    for method, summary in summaries.items():
        reference = paper.get(method, (None,) * len(heads))
        cells, values = [], []
        for (head, _), value in zip(heads.items(), reference, strict=True):
            stats = summary.get(f"test_score.{head}")
            cells += [mean_std(stats), paper_value(value)]
            values += [None if stats is None else 100 * stats["mean"], value]
        rows.append(cells)
        numbers.append(values)
    table = pd.DataFrame(rows, index=list(summaries), columns=columns)
    scores = pd.DataFrame(numbers, index=list(summaries), columns=columns, dtype=float)
    for column in columns:
        best = (
            scores.loc[list(ranked), column]
            .dropna()
            .sort_values(ascending=False, kind="stable")
            .index
        )
        for row, mark in zip(best, RANK_MARKS):
            table.loc[row, column] += mark
    return table


def run_costs(runs: Mapping[str, Mapping[str, Sequence[Path]]], baseline: str) -> pd.DataFrame:
    """``runs[dataset][method]`` (run folders, one per seed) as each run's wall-clock seconds (its
    ``timing.csv`` summed over epochs; mean over seeds) and that as a multiple of ``baseline``'s."""
    columns = {}
    for dataset, methods in runs.items():
        seconds = pd.Series(
            {
                method: sum(pd.read_csv(Path(d) / "timing.csv")["seconds"].sum() for d in dirs)
                / len(dirs)
                for method, dirs in methods.items()
            }
        )
        columns[(dataset, "seconds")] = seconds.round().astype(int)
        columns[(dataset, f"x {baseline}")] = (seconds / seconds[baseline]).round(1)
    return pd.DataFrame(columns)


def epoch_curves(
    runs: Sequence[Path],
    column: str,
    file: str = "history.csv",
    modality: str | None = None,
    scale: float = 1.0,
    reduce: str = "mean",
) -> pd.DataFrame:
    """``column`` of each run folder's ``file`` against the epoch, one column per run, times ``scale``.

    For ``diagnostics.csv`` give the ``modality``; its step-level rows are reduced per epoch
    (``reduce``: ``"mean"`` or ``"median"``).
    """
    curves = {}
    for run in runs:
        frame = pd.read_csv(Path(run) / file)
        if modality is not None:
            frame = frame[frame["modality"] == modality]
        curves[Path(run).name] = frame.groupby("epoch")[column].agg(reduce) * scale
    return pd.DataFrame(curves)


def phase_stats(
    curves: pd.DataFrame, early: int = 5, late: int = 10
) -> dict[str, dict[str, float]]:
    """Per-epoch curves (one column per run) averaged over the first ``early`` and the last ``late``
    epochs of each run, then summarised over runs: ``{"early": stats, "late": stats}`` (``mean``, ``std``, ``n``)."""
    phases = {"early": curves.iloc[:early].mean(), "late": curves.iloc[-late:].mean()}
    return {
        name: {"mean": float(v.mean()), "std": float(v.std()) if len(v) > 1 else 0.0, "n": len(v)}
        for name, v in phases.items()
    }


def encoder_measures(
    methods: Mapping[str, Summary], alone: Summary, modalities: Sequence[str]
) -> dict[str, dict[str, Mapping[str, float] | None]]:
    """Three measures of each modality's encoder, ``{measure: {modality: stats}}``: the model of that
    modality trained alone (``alone``, the paper's unimodal baseline), and inside each multimodal
    model of ``methods`` the shared head with the other modalities zeroed and a linear probe on
    frozen features. :func:`measures_table` prints it, :func:`dglnb.analysis.plots.measure_bars` draws it."""
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


def segmentation_versus_paper(
    fused: Mapping[str, Summary],
    unimodal: Summary,
    modalities: Sequence[str],
    paper: Mapping[str, Mapping[str, float]],
    ours: str,
    names: Mapping[str, str],
    paper_names: Mapping[str, str],
) -> pd.DataFrame:
    """Table 5-style rows, in %: each fused model of ``fused`` (its mIoU and pixel accuracy, and each
    encoder's mIoU inside it with the other modalities zeroed), then each modality's separately trained
    model from the ``unimodal`` run; beside them the paper's mIoU per setting of ``paper`` (e.g.
    ``{"from_scratch": {"esanet": 38.59, ...}}``), where ``paper_names`` maps a key of ``fused`` to the
    paper's row. ``names`` relabels the rows of ``fused``."""
    inside = {f"{m} inside": f"test_score.{m}" for m in modalities}
    rows = {}
    for key, summary in fused.items():
        rows[names.get(key, key)] = {
            (ours, "mIoU"): mean_std(summary.get("test_score.multimodal")),
            (ours, "pixel accuracy"): mean_std(summary.get("test_pixel_accuracy.multimodal")),
            **{(ours, col): mean_std(summary.get(metric)) for col, metric in inside.items()},
            **{
                ("paper (NYUv2 mIoU)", setting): paper_value(values.get(paper_names.get(key, key)))
                for setting, values in paper.items()
            },
        }
    for m in modalities:
        rows[f"{m} only"] = {
            (ours, "mIoU"): mean_std(unimodal.get(f"test_score.{m}")),
            (ours, "pixel accuracy"): mean_std(unimodal.get(f"test_pixel_accuracy.{m}")),
            **{(ours, col): MISSING for col in inside},
            **{("paper (NYUv2 mIoU)", setting): MISSING for setting in paper},
        }
    table = pd.DataFrame.from_dict(rows, orient="index")
    table.columns = pd.MultiIndex.from_tuples(table.columns)
    return table
