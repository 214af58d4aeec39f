"""A result table as the book page shows it (HTML) and as text, both deterministic for nbval."""

from __future__ import annotations

import hashlib
from typing import Hashable

import pandas as pd


class Table:
    """A result table as the book shows it: HTML with a caption, numbers right-aligned in tabular
    figures and the paper's columns (any column label starting with "paper") in italics; as text,
    the caption over ``DataFrame.to_string()``. Both are deterministic (nbval compares them)."""

    def __init__(self, frame: pd.DataFrame, caption: str) -> None:
        self.frame, self.caption = frame, caption

    def __repr__(self) -> str:
        return f"{self.caption}\n{self.frame.to_string()}"

    def _repr_html_(self) -> str:
        uuid = hashlib.sha1(repr(self).encode()).hexdigest()[:10]  # stable, and unique on a page
        theirs = [
            c for c in self.frame.columns if any(str(p).startswith("paper") for p in _levels(c))
        ]
        styles = [
            {
                "selector": "caption",
                "props": "caption-side: top; text-align: left; padding: 0.4em 0;",
            },
            {
                "selector": "td",
                "props": "text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap;",
            },
            {"selector": "th.row_heading", "props": "text-align: left; white-space: nowrap;"},
        ]
        styler = self.frame.style.set_uuid(uuid).set_caption(self.caption).set_table_styles(styles)
        for column in self.frame.select_dtypes("float").columns:
            styler = styler.format(
                f"{{:.{_decimals(self.frame[column])}f}}", subset=[column], na_rep="-"
            )
        return styler.set_properties(subset=theirs, **{"font-style": "italic"}).to_html()


def _levels(column: Hashable) -> tuple:
    return column if isinstance(column, tuple) else (column,)


def _decimals(values: pd.Series) -> int:
    """The fewest decimals (at most 6) that print every number of a float column as it is."""
    return max((len(f"{v:.6f}".rstrip("0").partition(".")[2]) for v in values.dropna()), default=0)
