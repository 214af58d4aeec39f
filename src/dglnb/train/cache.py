"""The run cache: each (settings, seed) trained once per build and read by every chapter that needs it.

Several processes may share one cache (``make test`` and ``make book`` run two chapters at a time):
a run is trained under an exclusive lock on ``<run folder>.lock``, so a second process that needs it
waits and then reads it, and :func:`train_seeds` trains the seeds nobody else holds first.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import hashlib
import json
import statistics
from pathlib import Path
from typing import Any, Iterator, Sequence

from .. import __version__
from ..config import TrainConfig
from ..paths import runs_dir
from . import evaluation
from .run import METRICS, read_metrics, resolve, train

#: metrics.json's per-head groups that a summary holds, as ``"<group>.<head>"``
SUMMARIZED = (
    "test_score",
    "val_score",
    "test_pixel_accuracy",
    "val_pixel_accuracy",
    "linear_probe",
    "decoder_probe",
    "test_score_running_stats",
)


def train_seeds(config: TrainConfig, seeds: Sequence[int]) -> dict[str, Any]:
    """Train once per seed and summarise: ``{"runs": [...], "summary": ..., "dirs": [...]}``.

    With ``config.out`` set, seed ``k`` trains into ``out/seed<k>``; with ``config.out=None`` each seed's
    run lives in the run cache (:func:`cached_run_dir`), where a finished run is read and never
    trained again, so that chapters share the runs of a build. ``summary`` maps each metric
    (``"test_score.multimodal"``, ``"linear_probe.hard"``, ...) to ``{"mean", "std", "n"}`` over the
    seeds where it is defined (std: sample standard deviation, 0 for one seed).
    """
    configs = [dataclasses.replace(config, seed=s) for s in seeds]
    if config.out is None:
        dirs = [cached_run_dir(c) for c in configs]
        runs = train_cached_all(configs)
    else:
        dirs = seed_run_dirs(config.out, seeds)
        runs = [train(dataclasses.replace(c, out=d)) for c, d in zip(configs, dirs)]
    return {"runs": runs, "summary": summarize(runs), "dirs": dirs}


def seed_run_dirs(out: Path, seeds: Sequence[int]) -> list[Path]:
    """The run folders :func:`train_seeds` writes under ``out``, one per seed."""
    return [Path(out) / f"seed{s}" for s in seeds]


def run_key(config: TrainConfig) -> str:
    """A short hash of everything that determines a run: every setting of the resolved config
    (method, dataset, profile, seed, hyperparameters, options), the dglnb version and how a finished
    run is scored (:data:`dglnb.train.evaluation.SCORING`)."""
    settings = {"dglnb": __version__, "scoring": evaluation.SCORING, **resolve(config).to_json()}
    return hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:16]


def cached_run_dir(config: TrainConfig) -> Path:
    """The run cache's folder for ``config``:
    ``build/runs/<profile>/cache/<dataset>-<fusion>-<method>-seed<k>-<key>``."""
    resolved = resolve(config)
    name = f"{resolved.dataset}-{resolved.fusion}-{resolved.method}-seed{resolved.seed}-{run_key(resolved)}"
    return runs_dir(resolved.profile, "cache") / name


@contextlib.contextmanager
def run_lock(out: Path, wait: bool = True) -> Iterator[bool]:
    """Hold the exclusive lock of the cached run ``out`` (yields True), or, with ``wait=False`` when
    another process holds it, yield False at once. Released when the holder exits, even if killed."""
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out.with_name(out.name + ".lock"), "w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def train_cached(config: TrainConfig, wait: bool = True) -> dict[str, Any] | None:
    """The metrics of ``config``'s run: read from the run cache when it finished there before (its
    settings checked), else trained there (continuing an interrupted run from its checkpoint). With
    ``wait=False``, None when another process is training it now."""
    out = cached_run_dir(config)
    with run_lock(out, wait) as held:
        if not held:
            return None
        settings = json.loads(json.dumps(resolve(config).to_json()))  # as metrics.json holds them
        if not (out / METRICS).is_file() or read_metrics(out)["config"] != settings:
            train(dataclasses.replace(config, out=out, resume=True))
        return read_metrics(out)


def train_cached_all(configs: Sequence[TrainConfig]) -> list[dict[str, Any]]:
    """:func:`train_cached` for each config, in order of the result; runs another process is
    training are left to the end, so that two processes sharing the cache never wait while there
    is work left."""
    runs = [train_cached(c, wait=False) for c in configs]
    return [run if run is not None else train_cached(c) for run, c in zip(runs, configs)]


def summarize(runs: Sequence[dict[str, Any]]) -> dict[str, dict[str, float]]:
    """Mean, sample std and count per metric over several runs' metrics dicts (nulls skipped)."""
    values: dict[str, list[float]] = {}
    for run in runs:
        for group in SUMMARIZED:
            for head, v in (run.get(group) or {}).items():
                if v is not None:
                    values.setdefault(f"{group}.{head}", []).append(v)
    return {
        name: {
            "mean": statistics.fmean(v),
            "std": statistics.stdev(v) if len(v) > 1 else 0.0,
            "n": len(v),
        }
        for name, v in values.items()
    }
