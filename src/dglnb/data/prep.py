"""Shared machinery of the ``data_prep/`` scripts: atomic writes, the manifest, splits, and a
resumable, parallel, progress-reporting loop over clips that reports bad clips and carries on."""

from __future__ import annotations

import argparse
import io
import json
import os
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

import numpy as np
from tqdm import tqdm

from ..progress import progress
from .errors import DataError, problems_error

MANIFEST = "manifest.json"
MANIFEST_FORMAT = 1


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to a temporary name beside ``path``, then rename: never a half-written file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        tmp.write_bytes(data)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def atomic_save_npy(path: Path, array: np.ndarray) -> None:
    """``np.save`` through :func:`atomic_write_bytes`."""
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=False)
    atomic_write_bytes(path, buffer.getvalue())


def save_av_sample(out: Path, sample_id: str, spectrogram: np.ndarray, frames: np.ndarray) -> None:
    """One prepared audio-visual sample: ``audio/<id>.npy`` (float16) and ``visual/<id>.npy`` (uint8)."""
    atomic_save_npy(out / "audio" / f"{sample_id}.npy", spectrogram.astype(np.float16))
    atomic_save_npy(out / "visual" / f"{sample_id}.npy", frames)


def write_manifest(out: Path, manifest: dict[str, Any]) -> Path:
    """Write ``out/manifest.json`` atomically (the last step of a prep: its presence means done)."""
    path = out / MANIFEST
    atomic_write_bytes(
        path, (json.dumps({"format": MANIFEST_FORMAT, **manifest}, indent=1) + "\n").encode()
    )
    return path


def av_manifest(
    dataset: str,
    classes: Sequence[str],
    labels: dict[str, int],
    splits: dict[str, list[str]],
    options: dict[str, Any],
    shapes: dict[str, list[int]],
    skipped: list[dict[str, str]],
) -> dict[str, Any]:
    """The manifest of a prepared classification set: ids, labels and class counts per split."""
    return {
        "dataset": dataset,
        "classes": list(classes),
        "options": options,
        "shapes": shapes,
        "splits": {
            s: {"ids": ids, "labels": [labels[i] for i in ids]} for s, ids in splits.items()
        },
        "class_counts": {
            s: class_counts((labels[i] for i in ids), len(classes)) for s, ids in splits.items()
        },
        "skipped": skipped,
    }


def read_manifest(root: Path | None, dataset: str) -> dict[str, Any]:
    """The manifest of a prepared ``dataset`` under ``root``, with a clear error when it is absent."""
    prep = f"python data_prep/{dataset}.py --help"
    if root is None:
        raise DataError(f"dataset {dataset!r} needs --data-root: the folder written by `{prep}`")
    path = Path(root) / MANIFEST
    if not path.is_file():
        raise DataError(
            f"{path} does not exist: {root} is not a prepared {dataset} folder. What to do: run `{prep}`"
        )
    try:
        manifest = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise DataError(
            f"{path} is unreadable ({exc}). What to do: re-run the data_prep script"
        ) from exc
    if manifest.get("dataset") != dataset:
        raise DataError(
            f"{path} describes dataset {manifest.get('dataset')!r}, not {dataset!r}. "
            f"What to do: point --data-root at the {dataset} folder"
        )
    return manifest


def class_counts(labels: Iterable[int], num_classes: int) -> list[int]:
    """How many of ``labels`` fall in each class."""
    return np.bincount(np.asarray(list(labels), dtype=np.int64), minlength=num_classes).tolist()


def stratified_split(
    ids: Sequence[str], labels: Sequence[int], fraction: float, seed: int
) -> tuple[list[str], list[str]]:
    """Split ``ids`` into (rest, held out) with ``fraction`` of each class held out, seeded.

    A class with a single member stays whole in ``rest``; the other classes are stratified (unless
    the held-out share is too small to hold one of each)."""
    from sklearn.model_selection import train_test_split

    if not 0 < fraction < 1:
        raise ValueError(f"split fraction must be in (0, 1), got {fraction}")
    counts = np.bincount(np.asarray(labels, dtype=np.int64))
    order = sorted(range(len(ids)), key=lambda i: ids[i])  # independent of listing order
    single = sorted(ids[i] for i in order if counts[labels[i]] == 1)
    ids, labels = (
        [ids[i] for i in order if counts[labels[i]] > 1],
        [labels[i] for i in order if counts[labels[i]] > 1],
    )
    if len(ids) < 2:
        return sorted(ids + single), []
    stratify = labels if len(ids) * fraction >= len(set(labels)) else None
    rest, held = train_test_split(ids, test_size=fraction, random_state=seed, stratify=stratify)
    return sorted(rest + single), sorted(held)


def run_clips(
    work: Callable[[Any], str | None],
    tasks: Sequence[Any],
    names: Sequence[str],
    *,
    workers: int = 1,
    desc: str = "clips",
) -> dict[str, str]:
    """Run ``work(task)`` for every task (it returns None, or why the clip is bad) with progress
    shown (:func:`dglnb.progress.progress`), in ``workers`` processes; return {name: reason} of the bad clips."""
    bad: dict[str, str] = {}
    bar = progress(total=len(tasks), desc=desc, unit="clip")
    if workers <= 1:
        results: Iterable[str | None] = map(work, tasks)
        for name, reason in zip(names, results):
            if reason:
                bad[name] = reason
            bar.update()
    else:
        with ProcessPoolExecutor(workers, mp_context=get_context("spawn")) as pool:
            for name, reason in zip(names, pool.map(work, tasks, chunksize=4)):
                if reason:
                    bad[name] = reason
                bar.update()
    bar.close()
    return bad


def report_bad(bad: dict[str, str], strict: bool, fix: str) -> list[dict[str, str]]:
    """Raise a DataError naming every bad clip when ``strict``; else warn and return them for the manifest."""
    if not bad:
        return []
    problems = [f"{name}: {why}" for name, why in sorted(bad.items())]
    if strict:
        raise problems_error("bad clips", problems, f"{fix}; or run without --strict to skip them")
    error = problems_error("bad clips", problems, fix)
    tqdm.write(f"skipping {error}")
    return [{"id": name, "reason": why} for name, why in sorted(bad.items())]


def require_dir(path: Path, what: str, fix: str) -> Path:
    """``path`` if it is a folder, else a DataError saying what it should hold."""
    if not Path(path).is_dir():
        raise DataError(f"{what} folder {path} does not exist. What to do: {fix}")
    return Path(path)


def add_prep_arguments(
    parser: argparse.ArgumentParser, spectrograms: Sequence[str], default: str
) -> None:
    """The options every ``data_prep/`` script shares."""
    parser.add_argument(
        "--out", type=Path, required=True, help="prepared folder (re-running resumes)"
    )
    parser.add_argument("--workers", type=int, default=1, help="processes decoding clips")
    parser.add_argument(
        "--strict",
        action="store_true",
        help="stop, naming every bad clip, instead of skipping them",
    )
    parser.add_argument(
        "--spectrogram",
        default=default,
        choices=list(spectrograms),
        help="dglnb.data.audio.SPECS name",
    )
    parser.add_argument(
        "--frame-side", type=int, default=224, help="frames are stored as side x side RGB"
    )
    parser.add_argument(
        "--val-share", type=float, default=0.1, help="share of train held out for validation"
    )
    parser.add_argument("--seed", type=int, default=0)


def prep_options(args: argparse.Namespace) -> dict[str, Any]:
    """The shared options of :func:`add_prep_arguments` as keyword arguments."""
    return {
        "workers": args.workers,
        "strict": args.strict,
        "frame_side": args.frame_side,
        "val_share": args.val_share,
        "seed": args.seed,
    }


def run_prep(prepare: Callable[[], dict[str, Any]], out: Path) -> int:
    """Run a prep, print the split sizes (exit 0) or the DataError (exit 1)."""
    import sys

    try:
        manifest = prepare()
    except DataError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    for split, counts in manifest["class_counts"].items():
        print(f"{split:5s} {sum(counts):6d} clips, per class {counts}")
    print(f"skipped {len(manifest['skipped'])} bad clip(s); wrote {Path(out) / MANIFEST}")
    return 0
