"""Run-folder files written whole or not at all, and the checkpoint a resumed run continues from.

Run folders are shared between people, so a checkpoint is loaded with ``torch.load(weights_only=True)``:
tensors, containers and numbers, plus the few classes a dglnb checkpoint holds (:data:`CHECKPOINT_GLOBALS`);
a file naming any other class is refused before anything in it runs.
"""

from __future__ import annotations

import csv
import io
import json
import os
import pickle
import re
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..errors import CheckpointError, RunStopped

LOGS = (
    "history",
    "diagnostics",
    "timing",
)  # the run folder's CSV logs, kept as rows in the checkpoint
RESUMABLE_CHANGES = (
    "epochs",
    "num_workers",
)  # settings a resumed run may change (train longer, other workers)
#: Besides tensors, containers and numbers a checkpoint holds NumPy's global random state, a uint32 array
#: (dglnb.train.determinism.rng_state): the array's reconstructor, its class and its dtype's classes.
CHECKPOINT_GLOBALS = (np.zeros(0).__reduce__()[0], np.ndarray, np.dtype, type(np.dtype(np.uint32)))


def atomic_write(data: bytes, path: Path) -> None:
    """Write ``data`` to ``path`` whole or not at all: a temporary file, fsync, then a rename.

    A failed write (a full disk, a folder gone read-only) leaves the previous ``path`` untouched and
    raises :class:`~dglnb.errors.RunStopped` naming the file and the cause.
    """
    tmp = path.with_name(path.name + ".tmp")
    try:
        with tmp.open("wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError as error:
        tmp.unlink(missing_ok=True)
        raise RunStopped(
            f"could not write {path}: {error.strerror or error}. The previous {path.name} and the other files "
            "already written are intact. What to do: free space (or fix the folder), then rerun with --resume"
        ) from error


def atomic_save(obj: Any, path: Path) -> None:
    """``torch.save`` through :func:`atomic_write` (never a half-written checkpoint)."""
    buffer = io.BytesIO()
    torch.save(obj, buffer)
    atomic_write(buffer.getvalue(), path)


def atomic_write_json(obj: Any, path: Path) -> None:
    """Write ``obj`` as indented JSON through :func:`atomic_write`."""
    atomic_write((json.dumps(obj, indent=2) + "\n").encode(), path)


def atomic_write_csv(rows: list[dict[str, Any]], path: Path) -> None:
    """Write ``rows`` (header: the first row's keys) through :func:`atomic_write`; no rows, no file."""
    if not rows:
        path.unlink(missing_ok=True)
        return
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    atomic_write(text.getvalue().encode(), path)


def _refused_class(error: Exception) -> str | None:
    """The class or function a ``weights_only`` load refused, from torch's message; None for other failures."""
    found = re.search(r"GLOBAL (\S+)|but got <class '([^']+)'>", str(error))
    if not isinstance(error, pickle.UnpicklingError) or not found:
        return None
    return found.group(1) or found.group(2)


def load_file(path: Path, device: torch.device | str) -> Any:
    """What :func:`atomic_save` wrote to ``path``, onto ``device``, built from tensors, containers, numbers
    and :data:`CHECKPOINT_GLOBALS` only; :class:`~dglnb.errors.CheckpointError` if it is unreadable or
    names any other class (refused unread: loading it could run code)."""
    try:
        with torch.serialization.safe_globals(list(CHECKPOINT_GLOBALS)):
            return torch.load(path, map_location=device, weights_only=True)
    except Exception as error:  # a truncated or foreign file fails in many ways inside torch.load
        refused = _refused_class(error)
        if refused:
            raise CheckpointError(
                f"{path} was refused: it names {refused}, which no dglnb checkpoint holds (loading "
                "it could run code). What to do: use checkpoints written by dglnb only; delete it "
                "to start the run over"
            ) from error
        raise CheckpointError(
            f"{path} is not a readable checkpoint ({type(error).__name__}: {str(error).splitlines()[0]}). What to "
            "do: delete it to start the run over, or resume from another --out"
        ) from error


def load_checkpoint(path: Path, run: dict[str, Any], device: torch.device) -> dict[str, Any]:
    """The checkpoint at ``path`` (:func:`load_file`), checked to come from a run with the same settings
    as ``run`` (a :meth:`~dglnb.config.train_config.TrainConfig.to_json`; ``RESUMABLE_CHANGES`` may
    differ); :class:`~dglnb.errors.CheckpointError` if it is unreadable, refused or from another run."""
    saved = load_file(path, device)
    if not isinstance(saved, dict) or "config" not in saved:
        raise CheckpointError(
            f"{path} is not a dglnb checkpoint. What to do: delete it, or use another --out"
        )
    differences = [
        f"{k}={saved['config'].get(k)!r} there, {v!r} here"
        for k, v in run.items()
        if k not in RESUMABLE_CHANGES and saved["config"].get(k) != v
    ]
    if differences:
        raise CheckpointError(
            f"{path} was written by a run with other settings ({'; '.join(differences)}). What to do: resume with "
            "the checkpoint's settings, use another --out, or leave out --resume to start over"
        )
    return saved


def write_logs(state: dict[str, Any], out: Path) -> None:
    """Render the log rows kept in ``state`` as ``history.csv``, ``diagnostics.csv`` and ``timing.csv``."""
    for name in LOGS:
        atomic_write_csv(state[name], out / f"{name}.csv")
