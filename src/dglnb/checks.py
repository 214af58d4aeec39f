"""Checks of trained numbers that hold on every machine: regressions against recorded goldens and
the paper's claims, both judged against the seed-to-seed spread, never as printed text.

A notebook's hidden cell calls :func:`regression` with its summaries (from
:func:`dglnb.experiment.train_seeds`). ``make golden`` sets ``DGLNB_RECORD_GOLDENS=1`` and the call
records each metric's mean, std and seed count in ``notebooks/goldens/<notebook>.json``; otherwise it
checks this run against that file. Another CPU (other vector kernels), another torch build or
another set of seeds moves a trained number by about a seed's spread, so a mean may move by

    tolerance = SIGMAS * sqrt(s_golden**2 / n_golden + s_now**2 / n_now),  s = max(std, STD_FLOOR),

three standard errors of the difference of two means, with each std floored so that three seeds
that happen to agree closely do not make a tolerance of zero.

:func:`claim` states a claim of the paper as a comparison of two methods on one metric ("DGL's
multimodal accuracy exceeds vanilla's by more than 2 standard deviations", the pooled seed std)
and :func:`require` asserts the claims in the quick profile, where they are part of what the book
is checked for; in the full profile they are reported ("reproduced" / "not reproduced"), not asserted.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Sequence

from .paths import repo_root
from .report import Summary

SIGMAS = 3.0
STD_FLOOR = 0.01  # one point of accuracy: the least seed spread a regression tolerance assumes
CLAIM_STD_FLOOR = 0.002  # a claim's gap is measured against at least this pooled std
RECORD = "DGLNB_RECORD_GOLDENS"


def goldens_path(notebook: str) -> Path:
    """``notebooks/goldens/<notebook>.json``."""
    return repo_root() / "notebooks" / "goldens" / f"{notebook}.json"


def tolerance(golden: Mapping[str, float], now: Mapping[str, float]) -> float:
    """How far this run's mean may lie from the golden mean (see the module docstring)."""
    def variance_of_mean(stats: Mapping[str, float]) -> float:
        return max(stats["std"], STD_FLOOR) ** 2 / stats["n"]

    return SIGMAS * math.sqrt(variance_of_mean(golden) + variance_of_mean(now))


def regression(profile: str, notebook: str, summaries: Mapping[str, Summary]) -> None:
    """Record (under ``make golden``) or check this run's quick-profile summaries against the goldens.

    ``summaries`` maps a label ("vanilla", "dgl alpha=3", ...) to a summary. Only the quick profile is
    checked: it is the one whose goldens are committed. A failure names every metric out of tolerance.
    """
    if profile != "quick":
        return
    path = goldens_path(notebook)
    recorded = {label: {name: dict(stats) for name, stats in summary.items()} for label, summary in summaries.items()}
    if os.environ.get(RECORD):
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(recorded, indent=1, sort_keys=True) + "\n")
        os.replace(tmp, path)
        return
    if not path.is_file():
        raise AssertionError(f"no goldens at {path}: run `make golden` and commit the notebook and its goldens")
    golden = json.loads(path.read_text())
    problems = []
    for label, metrics in golden.items():
        for name, stats in metrics.items():
            now = summaries.get(label, {}).get(name)
            if now is None:
                problems.append(f"{label} {name}: recorded in the goldens, missing from this run")
            elif abs(now["mean"] - stats["mean"]) > (tol := tolerance(stats, now)):
                problems.append(f"{label} {name}: {now['mean']:.4f} (std {now['std']:.4f}, n {now['n']}) vs golden "
                                f"{stats['mean']:.4f} (std {stats['std']:.4f}, n {stats['n']}); tolerance {tol:.4f}")
    assert not problems, "trained numbers moved beyond their seed spread:\n" + "\n".join(problems)


@dataclass(frozen=True)
class Claim:
    """A comparison of two runs' ``metric``: ``better`` exceeds ``worse`` by more than ``sigmas`` pooled std."""

    statement: str
    metric: str
    gap: float  # mean(better) - mean(worse), a fraction
    spread: float  # pooled seed std, floored at CLAIM_STD_FLOOR
    sigmas: float

    @property
    def holds(self) -> bool:
        return self.gap > self.sigmas * self.spread

    @property
    def verdict(self) -> str:
        return "reproduced" if self.holds else "not reproduced"

    def describe(self) -> str:
        """E.g. ``"reproduced: +1.3 points, 4.1 x the seed std (0.3 points)"``."""
        ratio = self.gap / self.spread
        return (f"{self.verdict}: {100 * self.gap:+.1f} points, {ratio:.1f} x the seed std "
                f"({100 * self.spread:.1f} points; the claim needs more than {self.sigmas:g} x)")


def claim(statement: str, better: Summary, worse: Summary, metric: str, sigmas: float = 2.0) -> Claim:
    """The claim ``statement``: ``better``'s ``metric`` exceeds ``worse``'s by more than ``sigmas`` x the
    pooled seed std ``sqrt((s_better**2 + s_worse**2) / 2)``."""
    a, b = better[metric], worse[metric]
    spread = max(math.sqrt((a["std"] ** 2 + b["std"] ** 2) / 2), CLAIM_STD_FLOOR)
    return Claim(statement, metric, a["mean"] - b["mean"], spread, sigmas)


def require(claims: Sequence[Claim], profile: str) -> None:
    """Assert every claim in the quick profile (the book's checked setting); report only elsewhere."""
    if profile != "quick":
        return
    failed = [f"{c.statement} ({c.metric}): {c.describe()}" for c in claims if not c.holds]
    assert not failed, "claims the quick profile is checked for do not hold:\n" + "\n".join(failed)
