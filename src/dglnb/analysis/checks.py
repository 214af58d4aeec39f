"""Checks of trained numbers that hold on every machine: regressions against recorded goldens and
the paper's claims, both judged against the seed-to-seed spread, never as printed text.

A notebook's hidden cell calls :func:`regression` with its summaries (from
:func:`dglnb.train.cache.train_seeds`). ``make golden`` sets ``DGLNB_RECORD_GOLDENS=1`` and the call
records each metric's mean, std and seed count in ``notebooks/goldens/<notebook>.json``; otherwise it
checks this run against that file. Another CPU (other vector kernels), another torch build or
another set of seeds moves a trained number by about a seed's spread, so a mean may move by

    tolerance = SIGMAS * sqrt(s_golden**2 / n_golden + s_now**2 / n_now),
    s = max(std, largest std of the metric in the notebook's goldens, STD_FLOOR),

three standard errors of the difference of two means. Two or three seeds estimate a spread poorly
(on other kernels a run follows another trajectory, as another seed would), so each row's std is
raised to the largest seed std its notebook measured for the same metric: the rows of one chapter
share one recipe and one seed noise. A single run (a one-seed row) has no spread of its own and
takes that largest std (``STD_FLOOR`` where no row measured one).

:func:`claim` states a claim of the paper as a comparison of two methods on one metric ("DGL's
multimodal accuracy exceeds vanilla's") and holds when the gap exceeds two standard errors of the
difference of the two means, ``sqrt(s_a**2 / n_a + s_b**2 / n_b)`` from the seed stds: the
difference is then unlikely to be seed noise. :func:`require` asserts the claims in the quick
profile, where they are part of what the book is checked for; in the full profile they are reported
("reproduced" / "not reproduced"), not asserted.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Sequence

from ..paths import goldens_dir
from .table_cells import Summary

SIGMAS = 3.0
STD_FLOOR = 0.01  # one point of accuracy: the least seed spread a regression tolerance assumes
CLAIM_STD_FLOOR = 0.002  # the least seed std a claim assumes for each side
RECORD = "DGLNB_RECORD_GOLDENS"


def goldens_path(notebook: str) -> Path:
    """``notebooks/goldens/<notebook>.json`` in the project folder (:func:`dglnb.paths.home`)."""
    return goldens_dir() / f"{notebook}.json"


def tolerance(
    golden: Mapping[str, float], now: Mapping[str, float], spread: float = STD_FLOOR
) -> float:
    """How far this run's mean may lie from the golden mean (see the module docstring); each side's std
    is at least ``spread``, the largest seed std its chapter measured for the metric (two or three seeds
    estimate a spread poorly, and rows of one chapter share one seed noise), and at least ``STD_FLOOR``."""

    def variance_of_mean(stats: Mapping[str, float]) -> float:
        std = stats["std"] if stats["n"] > 1 else 0.0
        return max(std, spread, STD_FLOOR) ** 2 / stats["n"]

    return SIGMAS * math.sqrt(variance_of_mean(golden) + variance_of_mean(now))


def largest_spread(summaries: Mapping[str, Summary]) -> dict[str, float]:
    """Per metric of any entry of ``summaries``, the largest seed std among the entries measured
    over several seeds; 0.0 for a metric that only single runs measured (no spread is known)."""
    spread: dict[str, float] = {}
    for summary in summaries.values():
        for name, stats in summary.items():
            spread[name] = max(spread.get(name, 0.0), stats["std"] if stats["n"] > 1 else 0.0)
    return spread


def with_seed_spread(summaries: Mapping[str, Summary]) -> dict[str, Summary]:
    """``summaries`` with each single run's std (it has none of its own) set to the largest seed std
    measured for the same metric among them, as :func:`regression` does, so that a claim about a
    one-seed row still allows for seed noise on its side."""
    spread = largest_spread(summaries)
    return {
        label: {
            name: dict(stats, std=spread[name]) if stats["n"] == 1 else stats
            for name, stats in summary.items()
        }
        for label, summary in summaries.items()
    }


def checked(profile: str, sizes: str | None = None) -> bool:
    """Whether a notebook's trained numbers are checked: in the quick profile at its own run sizes
    (the setting of the committed goldens), not in the full profile nor with ``sizes="smoke"``."""
    return profile == "quick" and sizes is None


def regression(
    profile: str, notebook: str, summaries: Mapping[str, Summary], sizes: str | None = None
) -> None:
    """Record (under ``make golden``) or check this run's quick-profile summaries against the goldens.

    ``summaries`` maps a label ("vanilla", "dgl alpha=3", ...) to a summary. Only the quick profile at
    its own sizes is checked (:func:`checked`): it is the one whose goldens are committed. Every
    metric of every row is checked; a failure names every metric out of tolerance.
    """
    if not checked(profile, sizes):
        return
    path = goldens_path(notebook)
    recorded = {
        label: {name: dict(stats) for name, stats in summary.items()}
        for label, summary in summaries.items()
    }
    if os.environ.get(RECORD):
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(recorded, indent=1, sort_keys=True) + "\n")
        os.replace(tmp, path)
        return
    if not path.is_file():
        raise AssertionError(
            f"no goldens at {path}: run `make golden` and commit the notebook and its goldens"
        )
    golden = json.loads(path.read_text())
    spread = largest_spread(golden)
    problems = []
    for label, metrics in golden.items():
        for name, stats in metrics.items():
            now = summaries.get(label, {}).get(name)
            if now is None:
                problems.append(f"{label} {name}: recorded in the goldens, missing from this run")
            elif abs(now["mean"] - stats["mean"]) > (tol := tolerance(stats, now, spread[name])):
                problems.append(
                    f"{label} {name}: {now['mean']:.4f} (std {now['std']:.4f}, n {now['n']}) vs golden "
                    f"{stats['mean']:.4f} (std {stats['std']:.4f}, n {stats['n']}); tolerance {tol:.4f}"
                )
    assert not problems, "trained numbers moved beyond their seed spread:\n" + "\n".join(problems)


@dataclass(frozen=True)
class Claim:
    """A comparison of two runs' ``metric``: ``better`` exceeds ``worse`` by more than ``sigmas``
    standard errors of the difference of their means."""

    statement: str
    metric: str
    gap: float  # mean(better) - mean(worse), in the metric's units (accuracy: a fraction)
    spread: float  # standard error of the gap, from the seed stds (each floored at CLAIM_STD_FLOOR)
    sigmas: float
    scale: float = 100.0  # how the gap is shown: fractions as points of percentage ...
    unit: str = " points"  # ... by default

    @property
    def holds(self) -> bool:
        return self.gap > self.sigmas * self.spread

    @property
    def verdict(self) -> str:
        return "reproduced" if self.holds else "not reproduced"

    def describe(self) -> str:
        """E.g. ``"reproduced: +1.3 points, 4.1 standard errors (0.3 points; the claim needs more than 2)"``."""
        ratio = self.gap / self.spread
        digits = 1 if self.scale == 100.0 else 2
        return (
            f"{self.verdict}: {self.scale * self.gap:+.{digits}f}{self.unit}, {ratio:.1f} standard errors "
            f"({self.scale * self.spread:.{digits}f}{self.unit}; the claim needs more than {self.sigmas:g})"
        )


def claim(
    statement: str,
    better: Summary,
    worse: Summary,
    metric: str,
    sigmas: float = 2.0,
    scale: float = 100.0,
    unit: str = " points",
) -> Claim:
    """The claim ``statement``: ``better``'s ``metric`` exceeds ``worse``'s by more than ``sigmas``
    standard errors of the difference, ``sqrt(s_better**2 / n_better + s_worse**2 / n_worse)``.
    ``scale`` and ``unit`` only change how the gap is described (for a ratio: ``scale=1, unit=""``)."""
    a, b = better[metric], worse[metric]
    spread = math.sqrt(sum(max(s["std"], CLAIM_STD_FLOOR) ** 2 / s["n"] for s in (a, b)))
    return Claim(statement, metric, a["mean"] - b["mean"], spread, sigmas, scale, unit)


def require(claims: Sequence[Claim], profile: str, sizes: str | None = None) -> None:
    """Assert every claim where the numbers are checked (:func:`checked`); report only elsewhere."""
    if not checked(profile, sizes):
        return
    failed = [f"{c.statement} ({c.metric}): {c.describe()}" for c in claims if not c.holds]
    assert not failed, "claims the quick profile is checked for do not hold:\n" + "\n".join(failed)
