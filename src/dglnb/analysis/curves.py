"""Per-epoch curves and costs read from run folders (one run per seed): a column of ``history.csv``
or ``diagnostics.csv`` against the epoch, its early and late phases, and each run's wall-clock time.
"""

from __future__ import annotations

from pathlib import Path
from typing import Mapping, Sequence

import pandas as pd


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
