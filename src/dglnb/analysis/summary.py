"""A chapter's claims as one table for the book's results page (``book/results.md``), which pastes
each chapter's table through myst-nb glue.

One row per claim (a :class:`~dglnb.analysis.checks.Claim`): the claim, the paper's numbers, this
run's numbers in the column of the profile that produced them (the other profile's column says it
was not run in this build) and the verdict with its margin in standard errors.
"""

from __future__ import annotations

from html import escape
from typing import Mapping, NamedTuple, Sequence

import pandas as pd

from .book_table import Table
from .checks import Claim
from .report import table
from .table_cells import MISSING, Summary, mean_std, paper_value

PROFILES = ("quick", "full")  #: the profiles with a column of their own, whichever one ran
NOT_RUN = "not run in this build"  #: the numbers of a profile that this build did not run
CLAIM = "the paper's claim"  #: the heading of the claims (the rows)
NBSP = "\u00a0"


class Line(NamedTuple):
    """One row of a claims table: the claim, the paper's numbers and this run's, as text."""

    claim: Claim
    paper: str
    ours: str


def versus(
    better: Mapping[str, float] | None,
    worse: Mapping[str, float] | None,
    scale: float = 100.0,
    digits: int = 1,
) -> str:
    """This run's two sides of a claim, ``"92.1 ± 0.5 vs 90.6 ± 1.2"`` (summary entries, e.g. in %);
    each side's spaces are non-breaking, so that a narrow page breaks the line at "vs" only."""
    sides = (mean_std(stats, scale, digits).replace(" ", NBSP) for stats in (better, worse))
    return " vs ".join(sides)


def paper_versus(better: float | None, worse: float | None) -> str:
    """The paper's two sides of a claim as printed, ``"77.48 vs 65.10"``; ``"-"`` if it has neither."""
    if better is None and worse is None:
        return MISSING
    return f"{paper_value(better)} vs {paper_value(worse)}"


def paper_heads_versus(
    rows: Mapping[str, Sequence[float | None]],
    heads: Sequence[str],
    better: str,
    worse: str,
    head: str,
) -> str:
    """The paper's two sides of a claim from a table whose ``rows`` list one number per column of
    ``heads`` (e.g. :data:`dglnb.paper.AUDIO_VISUAL_HEADS`): rows ``better`` and ``worse``, column
    ``head``; ``"-"`` for a column the table does not have (a benchmark's own modality)."""
    if head not in heads:
        return MISSING
    column = heads.index(head)
    return paper_versus(rows[better][column], rows[worse][column])


def line(claim: Claim, better: Summary, worse: Summary, paper: str = MISSING) -> Line:
    """The row of ``claim``, made from the two summaries it compares: this run's numbers of the
    claim's metric, shown as the claim shows its gap (fractions in %, ratios with two decimals)."""
    digits = 1 if claim.scale == 100.0 else 2
    return Line(
        claim, paper, versus(better.get(claim.metric), worse.get(claim.metric), claim.scale, digits)
    )


def verdict(claim: Claim) -> str:
    """``"reproduced: 4.1 SE (needs > 2)"``: the verdict and the gap in standard errors (SE) of the
    difference, against the number of them the claim needs (see :func:`dglnb.analysis.checks.claim`);
    a narrow page breaks the line after the colon only."""
    margin = f"{claim.gap / claim.spread:.1f} SE (needs > {claim.sigmas:g})"
    return f"{claim.verdict.replace(' ', NBSP)}: {margin.replace(' ', NBSP)}"


def claims_table(
    lines: Sequence[Line],
    chapter: str,
    profile: str,
    dataset: str,
    seeds: Sequence[int] | str,
    theirs: str = "paper",
) -> Table:
    """``lines`` as a book table captioned with ``chapter``, the profile, dataset, seeds and dglnb
    version; the paper's numbers stand in column ``theirs`` (e.g. ``"paper (CREMA-D)"``).

    This run's numbers stand in the column of ``profile``; every other profile of :data:`PROFILES`
    says :data:`NOT_RUN` (a profile outside them, e.g. smoke, gets a column of its own)."""
    profiles = [*PROFILES, *([profile] if profile not in PROFILES else [])]

    def row(line: Line) -> dict[str, str]:
        numbers = {f"{p} profile": line.ours if p == profile else NOT_RUN for p in profiles}
        return {theirs: line.paper, **numbers, "verdict": verdict(line.claim)}

    frame = pd.DataFrame.from_dict(
        {line.claim.statement: row(line) for line in lines}, orient="index"
    )
    frame.index.name = CLAIM
    return table(
        frame,
        f"{chapter}: the paper's claims beside this run's numbers (scores in %; SE: "
        "standard errors of the difference, from the seed spread)",
        profile,
        dataset,
        seeds,
    )


class ClaimList(str):
    """A heading and a list of claims: Markdown in the notebook, HTML where myst-nb pastes it into
    another page (the results page: a glue from another document takes text, HTML or images only)."""

    def __new__(cls, heading: str, items: Sequence[str]) -> ClaimList:
        listed = "".join(f"\n- {item}" for item in items)
        text = super().__new__(cls, f"{heading}\n{listed}" if items else heading)
        text.heading, text.items = heading, tuple(items)
        return text

    def _repr_markdown_(self) -> str:
        return str(self)

    def _repr_html_(self) -> str:
        items = "".join(f"<li>{escape(item)}</li>" for item in self.items)
        return f"<p>{escape(self.heading)}</p>" + (f"<ul>{items}</ul>" if items else "")


def not_reproduced(lines: Sequence[Line], chapter: str, profile: str) -> ClaimList:
    """The claims of ``lines`` this run does not reproduce, listed for the results page
    (``"Chapter 06 (quick profile): every claim reproduced."`` when there is none): the list is read
    from the runs, never typed."""
    missed = [line.claim for line in lines if not line.claim.holds]
    if not missed:
        return ClaimList(f"{chapter} ({profile} profile): every claim reproduced.", ())
    return ClaimList(
        f"{chapter} ({profile} profile):", [f"{c.statement} ({verdict(c)})" for c in missed]
    )
