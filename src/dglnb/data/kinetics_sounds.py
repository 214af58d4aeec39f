"""Kinetics-Sounds: prep from a folder of 10 s clips + OGM-GE-style list files, and the loader.

List files (``my_train.txt``/``my_test.txt`` as OGM-GE ships them): one clip per line,
``<clip id>,<duration>,<class name>`` with the clip stored as ``<clip id>.mp4``. Public lists
disagree on the class count: OGM-GE's lists hold 31 classes, the DGL code's ``class.txt`` 33 and
its model is built for 34, so the expected count is an option (default 31, the lists' own).
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

from . import DATASETS
from .clips import Entry, prepare_clips
from .errors import problems_error
from .prepared import PreparedAV

EXPECTED_CLASSES = 31


def read_list(path: Path, split: str) -> list[Entry]:
    """Entries of an OGM-GE list file (``id,duration,class``)."""
    entries, problems = [], []
    with open(path, encoding="utf-8-sig", newline="") as handle:
        for line, row in enumerate(csv.reader(handle), start=1):
            if not row:
                continue
            if len(row) < 3 or not row[0].strip() or not row[-1].strip():
                problems.append(
                    f"{path}:{line}: expected 'id,duration,class', got {','.join(row)!r}"
                )
                continue
            entries.append(Entry(row[0].strip(), row[-1].strip(), split))
    if problems:
        raise problems_error(
            "bad rows in a Kinetics-Sounds list", problems, "fix or replace the list file"
        )
    return entries


def prepare(
    clips: Path,
    train_list: Path,
    test_list: Path,
    out: Path,
    *,
    expected_classes: int = EXPECTED_CLASSES,
    **options: Any,
) -> dict[str, Any]:
    """Prepare Kinetics-Sounds into ``out``; ``options`` as :func:`dglnb.data.clips.prepare_clips`."""
    entries = read_list(Path(train_list), "train") + read_list(Path(test_list), "test")
    names = {e.clip_id: f"{e.clip_id}.mp4" for e in entries}
    return prepare_clips(
        "kinetics_sounds",
        entries,
        Path(clips),
        Path(out),
        file_names=names,
        expected_classes=expected_classes,
        **options,
    )


@DATASETS.register("kinetics_sounds")
def load_kinetics_sounds(
    split: str, *, profile: str = "quick", data_root: Path | None = None, seed: int = 0
) -> PreparedAV:
    """Kinetics-Sounds prepared by ``data_prep/kinetics_sounds.py``: 3 frames per clip."""
    return PreparedAV(data_root, "kinetics_sounds", split, profile=profile, frames=3)
