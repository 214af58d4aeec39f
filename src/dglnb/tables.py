"""Small table helpers for the book: several seeds become "mean ± std" strings."""

from __future__ import annotations

import pandas as pd


def mean_std(rows: list[dict], by: str, digits: int = 3) -> pd.DataFrame:
    """Group ``rows`` by column ``by`` and format every other column as ``mean ± std`` (population std)."""
    grouped = pd.DataFrame(rows).groupby(by, sort=False)
    fmt = f"{{:.{digits}f}}".format
    return grouped.mean().map(fmt) + " ± " + grouped.std(ddof=0).map(fmt)
