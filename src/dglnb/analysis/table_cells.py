"""How a number prints in a book table: this run's ``mean ± std`` over seeds, the paper's number, and
``"-"`` for a missing one.

A ``Summary`` is what :func:`dglnb.train.cache.train_seeds` returns: metric name (e.g.
``"test_score.multimodal"`` or ``"linear_probe.hard"``) -> ``{"mean", "std", "n"}``. Scores are
fractions in a summary and percentages in the paper; both print as percentages.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import pandas as pd

Summary = Mapping[str, Mapping[str, float]]
MISSING = "-"


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
