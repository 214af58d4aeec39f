"""A sweep's results as one table (``dglnb sweep CONFIG.yaml --collect``): ``out/results.csv``, and
``results.parquet`` when pyarrow is installed.

One row per finished run, with ``method``, ``dataset``, ``seed``, one column per option, the metrics
(``metric``, ``test_score.multimodal``, ``linear_probe.<modality>``, ...) and ``run_dir``.
"""

from __future__ import annotations

import json
from typing import Any, Mapping

import pandas as pd

from .run import read_metrics
from .sweep_file import Sweep


def _flatten(metrics: Mapping[str, Any]) -> dict[str, Any]:
    """Metrics as columns: nested dicts joined by dots (``test_score.multimodal``); config left out."""
    row = {}
    for key, value in metrics.items():
        if key == "config":
            continue
        if isinstance(value, dict):
            row.update({f"{key}.{k}": v for k, v in value.items()})
        else:
            row[key] = value
    return row


def collect(sweep: Sweep) -> pd.DataFrame:
    """One row per finished run (method, dataset, seed, options, metrics, run_dir); written as
    ``results.csv`` (and ``results.parquet`` when pyarrow is installed) under the sweep's folder."""
    rows = []
    for run in sweep.runs:
        if run.finished and run.other_settings(sweep.profile) is None:
            metrics = read_metrics(run.out)
            rows.append(
                {
                    "method": run.method,
                    "dataset": run.dataset,
                    "seed": run.seed,
                    **{
                        k: json.dumps(v) if isinstance(v, (list, tuple)) else v
                        for k, v in run.options + run.method_options
                    },
                    **_flatten(metrics),
                    "run_dir": str(run.out),
                }
            )
    table = pd.DataFrame(rows)
    sweep.out.mkdir(parents=True, exist_ok=True)
    table.to_csv(sweep.out / "results.csv", index=False)
    try:
        import pyarrow  # noqa: F401
    except ImportError:
        pass
    else:
        table.to_parquet(sweep.out / "results.parquet", index=False)
    return table
