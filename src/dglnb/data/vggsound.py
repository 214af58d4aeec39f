"""VGGSound: prep from a folder of 10 s clips + ``vggsound.csv``, and the loader.

``vggsound.csv`` rows are ``youtube id,start second,class name,train|test`` (no header; class
names with commas are quoted). A clip is looked up as ``<ytid>_<start:06d>.mp4`` and, failing
that, ``<ytid>_<start>.mp4``; its id is ``<ytid>_<start:06d>``. The public list has 309 classes.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

from . import DATASETS
from .clips import Entry, prepare_clips
from .errors import problems_error
from .prepared import PreparedAV

EXPECTED_CLASSES = 309


def read_csv(path: Path) -> list[Entry]:
    """Entries of ``vggsound.csv``."""
    entries, problems = [], []
    with open(path, encoding="utf-8-sig", newline="") as handle:
        for line, row in enumerate(csv.reader(handle), start=1):
            if not row:
                continue
            if (
                len(row) != 4
                or not row[1].strip().isdigit()
                or row[3].strip() not in ("train", "test")
            ):
                problems.append(
                    f"{path}:{line}: expected 'ytid,start,label,train|test', got {','.join(row)!r}"
                )
                continue
            ytid, start, label, split = (field.strip() for field in row)
            entries.append(Entry(f"{ytid}_{int(start):06d}", label, split))
    if problems:
        raise problems_error(
            "bad rows in the VGGSound list", problems, "fix or replace vggsound.csv"
        )
    return entries


def _file_name(clips: Path, clip_id: str) -> str:
    ytid, start = clip_id.rsplit("_", 1)
    padded = f"{clip_id}.mp4"
    return (
        padded
        if (clips / padded).is_file() or not (clips / f"{ytid}_{int(start)}.mp4").is_file()
        else f"{ytid}_{int(start)}.mp4"
    )


def prepare(
    clips: Path,
    csv_path: Path,
    out: Path,
    *,
    expected_classes: int = EXPECTED_CLASSES,
    **options: Any,
) -> dict[str, Any]:
    """Prepare VGGSound into ``out``; ``options`` as :func:`dglnb.data.clips.prepare_clips`."""
    entries = read_csv(Path(csv_path))
    names = {e.clip_id: _file_name(Path(clips), e.clip_id) for e in entries}
    return prepare_clips(
        "vggsound",
        entries,
        Path(clips),
        Path(out),
        file_names=names,
        expected_classes=expected_classes,
        **options,
    )


@DATASETS.register("vggsound")
def load_vggsound(
    split: str, *, profile: str = "quick", data_root: Path | None = None, seed: int = 0
) -> PreparedAV:
    """VGGSound prepared by ``data_prep/vggsound.py``: 3 frames per clip."""
    return PreparedAV(data_root, "vggsound", split, profile=profile, frames=3)
