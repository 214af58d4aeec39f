"""Tables of this run's numbers beside the paper's: a list of methods (:func:`versus_paper`), a
hyperparameter sweep (:func:`sweep_versus_paper`), Table 1's heads (:func:`heads_versus_paper`) and
Table 5's segmentation (:func:`segmentation_versus_paper`).

Each takes summaries (``Summary``, :mod:`dglnb.analysis.table_cells`: one per run setting, over seeds)
and the paper's numbers from :mod:`dglnb.paper`, and prints both as percentages.
"""

from __future__ import annotations

from typing import Hashable, Mapping, Sequence

import pandas as pd

from .table_cells import MISSING, Summary, mean_std, paper_value

RANK_MARKS = (" (1st)", " (2nd)")  #: the best and the second-best number of a column


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
