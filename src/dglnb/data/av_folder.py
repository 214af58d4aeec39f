"""Your own audio-visual data (``av_folder``): prep from a folder of clips or a CSV list, and the loader.

A clip is a sound file and a picture file with the same name: ``<clip>.wav`` and ``<clip>.mp4``
(a video: its 1-fps frames are kept, as for CREMA-D) or ``<clip>.jpg``/``.jpeg``/``.png`` (one
image, read as a one-frame video). Two ways to say what the clips are:

* a folder ``RAW/<class>/<clip>.wav`` + ``RAW/<class>/<clip>.mp4|.jpg|.png``: the class is the folder;
* a CSV list (``csv``) with a header row naming ``path``, ``label`` and optionally ``split`` columns:
  ``path`` is the clip relative to ``RAW`` without extension (``dogs/rex01``), ``label`` its class
  name, ``split`` one of train, val, test. Either every row has a split or none does.

The sample id is the clip's path relative to ``RAW`` without extension. Every file that does not
make a clip (unreadable, without its partner, two pictures, another type, outside the layout) is
named and skipped, and a summary counts the skipped files by reason. The classes are the sorted
names of the usable clips. Without given splits the test share and then the validation share are
held out per class (seeded, written into the manifest); a class with a single clip stays in train.
A class missing from a split is reported as a warning and recorded in the manifest.
"""

from __future__ import annotations

import csv
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tqdm import tqdm

from . import DATASETS, SPLITS
from .audio import get_spec
from .cremad import prepare_clip
from .errors import DataError, problems_error
from .prep import av_manifest, report_bad, require_dir, run_clips, stratified_split, write_manifest
from .prepared import PreparedAV

AUDIO = (".wav",)
PICTURES = (".mp4", ".jpg", ".jpeg", ".png")
# the reasons a file is skipped, as the summary counts them (each skip reason starts with one)
KINDS = (
    "unreadable audio",
    "unreadable video",
    "no picture",
    "no audio",
    "several pictures",
    "missing",
    "not a clip file",
    "outside the layout",
)


@dataclass(frozen=True)
class Clip:
    """One clip: its id, class name, given split (or None), sound file and picture file."""

    clip_id: str
    label: str
    split: str | None
    audio: Path
    picture: Path


def scan_folder(raw: Path) -> tuple[list[Clip], dict[str, str]]:
    """The clips of a ``RAW/<class>/<clip>.<ext>`` folder, and {file or clip: why it is skipped}."""
    bad: dict[str, str] = {}
    found: dict[str, list[Path]] = {}
    for path in sorted(p for p in raw.rglob("*") if p.is_file()):
        rel = path.relative_to(raw)
        if len(rel.parts) != 2:
            bad[rel.as_posix()] = f"outside the layout: {path} is not RAW/<class>/<clip>.<ext>"
        elif path.suffix.lower() not in AUDIO + PICTURES:
            bad[rel.as_posix()] = (
                f"not a clip file: {path} (sound: {', '.join(AUDIO)}; picture: {', '.join(PICTURES)})"
            )
        else:
            found.setdefault(rel.with_suffix("").as_posix(), []).append(path)
    clips = []
    for clip_id, paths in found.items():
        sounds = [p for p in paths if p.suffix.lower() in AUDIO]
        pictures = [p for p in paths if p.suffix.lower() in PICTURES]
        if why := _unpaired(clip_id, sounds, pictures, raw):
            bad[clip_id] = why
        else:
            clips.append(Clip(clip_id, clip_id.split("/")[0], None, sounds[0], pictures[0]))
    return clips, bad


def _unpaired(clip_id: str, sounds: list[Path], pictures: list[Path], raw: Path) -> str | None:
    """Why the files of ``clip_id`` do not make one clip, or None."""
    if not sounds:
        return f"no audio: {', '.join(map(str, pictures))} has no {raw / clip_id}.wav"
    if not pictures:
        return f"no picture: {sounds[0]} has no {raw / clip_id}.mp4, .jpg, .jpeg or .png"
    if len(pictures) > 1:
        return f"several pictures: {', '.join(map(str, pictures))}; keep one"
    return None


def read_list(path: Path, raw: Path) -> tuple[list[Clip], dict[str, str]]:
    """The clips a CSV list names, and {clip: why it is skipped} for listed clips whose files are
    missing; a DataError names every malformed row."""
    problems: list[str] = []
    rows: dict[str, tuple[str, str | None]] = {}
    with open(path, encoding="utf-8-sig", newline="") as handle:
        reader = csv.DictReader(handle)
        header = [c.strip() for c in reader.fieldnames or []]
        if "path" not in header or "label" not in header:
            raise DataError(
                f"{path}: the header row must name the columns path and label (and optionally "
                f"split); it has {header}. What to do: add a header row 'path,label,split'"
            )
        for line, row in enumerate(reader, start=2):
            row = {k.strip(): (v or "").strip() for k, v in row.items() if k}
            clip_id = _strip_suffix(row["path"])
            split = row.get("split") or None
            if not clip_id or not row["label"]:
                problems.append(f"{path}:{line}: empty path or label")
            elif split not in (None, *SPLITS):
                problems.append(f"{path}:{line}: split {split!r} is not one of {', '.join(SPLITS)}")
            elif clip_id in rows:
                problems.append(f"{path}:{line}: {clip_id} is listed twice")
            else:
                rows[clip_id] = (row["label"], split)
    given = {split is not None for _, split in rows.values()}
    if len(given) > 1:
        problems += [
            f"{path}: clip {c} has no split, but others have one"
            for c, (_, s) in rows.items()
            if s is None
        ]
    if problems:
        raise problems_error(
            "bad rows in the clip list",
            problems,
            "fix the list: every row 'path,label[,split]', either every split given or none",
        )
    clips, bad = [], {}
    for clip_id, (label, split) in rows.items():
        sounds = [p for p in (raw / f"{clip_id}{s}" for s in AUDIO) if p.is_file()]
        pictures = [p for p in (raw / f"{clip_id}{s}" for s in PICTURES) if p.is_file()]
        if not sounds and not pictures:
            bad[clip_id] = (
                f"missing: listed in {path}, but {raw / clip_id}.wav and its picture do not exist"
            )
        elif why := _unpaired(clip_id, sounds, pictures, raw):
            bad[clip_id] = why
        else:
            clips.append(Clip(clip_id, label, split, sounds[0], pictures[0]))
    return clips, bad


def _strip_suffix(path: str) -> str:
    """``path`` without a sound or picture extension."""
    stem, dot, suffix = path.rpartition(".")
    return stem if dot and f".{suffix.lower()}" in AUDIO + PICTURES else path


def skip_summary(bad: dict[str, str]) -> str:
    """How many files or clips were skipped, by reason."""
    counts = Counter(next((k for k in KINDS if why.startswith(k)), "other") for why in bad.values())
    return f"skipped {len(bad)}" + (
        f" ({', '.join(f'{counts[k]} {k}' for k in (*KINDS, 'other') if counts[k])})" if bad else ""
    )


def make_splits(
    clips: list[Clip], labels: dict[str, int], val_share: float, test_share: float, seed: int
) -> dict[str, list[str]]:
    """The given splits (val carved from train when none is given), or seeded stratified ones."""
    given = {s: sorted(c.clip_id for c in clips if c.split == s) for s in SPLITS}
    if any(given.values()):
        train, test = given["train"], given["test"]
    else:
        ids = sorted(labels)
        train, test = stratified_split(ids, [labels[i] for i in ids], test_share, seed)
    val = given["val"]
    if not val:
        train, val = stratified_split(train, [labels[i] for i in train], val_share, seed)
    splits = {"train": train, "val": val, "test": test}
    empty = [s for s, ids in splits.items() if not ids]
    if empty:
        raise DataError(
            f"{len(labels)} usable clip(s) leave the {', '.join(empty)} split(s) empty. What to do: add clips, "
            "give the splits in a --csv list, or change --test-share / --val-share"
        )
    return splits


def class_warnings(
    classes: list[str], labels: dict[str, int], splits: dict[str, list[str]], listed: set[str]
) -> list[str]:
    """A line per class that lost every clip, or has none in some split."""
    lines = [
        f"class {name!r} has no usable clip: it is left out of the class list"
        for name in sorted(listed - set(classes))
    ]
    for k, name in enumerate(classes):
        missing = [s for s, ids in splits.items() if not any(labels[i] == k for i in ids)]
        if missing:
            total = sum(y == k for y in labels.values())
            lines.append(
                f"class {name!r} ({total} clip(s)) has none in {', '.join(missing)}"
                + (
                    ": it is trained on but never validated or tested"
                    if "train" not in missing
                    else ""
                )
            )
    return lines


def prepare(
    raw: Path,
    out: Path,
    *,
    csv_list: Path | None = None,
    workers: int = 1,
    strict: bool = False,
    spectrogram_name: str = "paper",
    frame_side: int = 224,
    fps: float = 1.0,
    val_share: float = 0.1,
    test_share: float = 0.2,
    seed: int = 0,
) -> dict[str, Any]:
    """Prepare the clips under ``raw`` (or those ``csv_list`` names) into ``out``; return the manifest.
    Resumes: finished clips are skipped. CREMA-D's spectrogram and frame settings by default."""
    for option, share in (("--test-share", test_share), ("--val-share", val_share)):
        if not 0 < share < 1:
            raise DataError(f"{option} must be between 0 and 1 (a share of the clips), got {share}")
    raw = require_dir(
        Path(raw), "clip", "point --raw at the folder holding <class>/<clip>.wav and its picture"
    )
    out = Path(out)
    clips, bad = read_list(Path(csv_list), raw) if csv_list else scan_folder(raw)
    todo = [
        c
        for c in clips
        if not all((out / m / f"{c.clip_id}.npy").is_file() for m in ("audio", "visual"))
    ]
    tasks = [(c.audio, c.picture, out, c.clip_id, spectrogram_name, frame_side, fps) for c in todo]
    bad |= run_clips(
        prepare_clip, tasks, [c.clip_id for c in todo], workers=workers, desc="av_folder"
    )
    skipped = report_bad(bad, strict, f"fix or remove these files under {raw}")
    good = [c for c in clips if c.clip_id not in bad]
    classes = sorted({c.label for c in good})
    labels = {c.clip_id: classes.index(c.label) for c in good}
    splits = make_splits(good, labels, val_share, test_share, seed)
    folders = {p.name for p in raw.iterdir() if p.is_dir()} if csv_list is None else set()
    warnings = class_warnings(classes, labels, splits, {c.label for c in clips} | folders)
    tqdm.write(f"av_folder: {len(good)} clips in {len(classes)} classes; {skip_summary(bad)}")
    for line in warnings:
        tqdm.write(f"warning: {line}")
    options = {
        "spectrogram": spectrogram_name,
        "frame_side": frame_side,
        "fps": fps,
        "val_share": val_share,
        "test_share": test_share,
        "seed": seed,
        "csv": str(csv_list) if csv_list else None,
        "splits": "given" if any(c.split for c in good) else "made",
    }
    shapes = {
        "audio": list(get_spec(spectrogram_name).shape),
        "visual": [-1, frame_side, frame_side, 3],
    }
    manifest = {
        **av_manifest("av_folder", classes, labels, splits, options, shapes, skipped),
        "warnings": warnings,
    }
    write_manifest(out, manifest)
    return manifest


@DATASETS.register("av_folder")
def load_av_folder(
    split: str, *, profile: str = "quick", data_root: Path | None = None, seed: int = 0
) -> PreparedAV:
    """Clips prepared by ``data_prep/av_folder.py``: one frame per clip (random when training), as CREMA-D;
    the class count is the manifest's."""
    return PreparedAV(data_root, "av_folder", split, profile=profile, frames=1)
