"""Prep shared by Kinetics-Sounds and VGGSound: a folder of 10 s ``.mp4`` clips plus a list of
(id, class name, split) -> spectrogram of the audio track + 3 evenly spaced 1-fps frames per clip.

The class list comes from the training entries (sorted names) and must have the expected size;
a listed clip whose file is missing, unreadable, silent or shorter than 3 s of frames is reported
and skipped (or stops the run with ``strict``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .audio import get_spec, spectrogram
from .errors import DataError
from .prep import (
    av_manifest,
    report_bad,
    require_dir,
    run_clips,
    save_av_sample,
    stratified_split,
    write_manifest,
)
from .video import audio_track, evenly_spaced, frames_per_second

FRAMES_PER_CLIP = 3


@dataclass(frozen=True)
class Entry:
    """One listed clip: its id (also the file stem), class name and split (train or test)."""

    clip_id: str
    label: str
    split: str


def _prepare_clip(task: tuple[Path, Path, str, str, int]) -> str | None:
    """Write one clip's spectrogram and frames; return why it failed, or None."""
    path, out, clip_id, spec_name, frame_side = task
    spec = get_spec(spec_name)
    try:
        frames = evenly_spaced(frames_per_second(path, fps=1.0, size=frame_side), FRAMES_PER_CLIP)
        spec_array = spectrogram(audio_track(path, spec.sample_rate), spec)
    except Exception as exc:  # noqa: BLE001 - any decoding failure makes the clip bad
        return f"{path}: {exc}"
    save_av_sample(out, clip_id, spec_array, frames)
    return None


def prepare_clips(
    dataset: str,
    entries: list[Entry],
    clip_dir: Path,
    out: Path,
    *,
    file_names: dict[str, str],
    expected_classes: int,
    workers: int = 1,
    strict: bool = False,
    spectrogram_name: str = "paper_10s",
    frame_side: int = 224,
    val_share: float = 0.1,
    seed: int = 0,
) -> dict[str, Any]:
    """Prepare ``entries`` (clip files ``clip_dir/file_names[id]``) into ``out``; return the manifest."""
    clip_dir = require_dir(
        clip_dir, f"{dataset} clips", "pass --clips, the folder holding the .mp4 files"
    )
    out = Path(out)
    classes = sorted({e.label for e in entries if e.split == "train"})
    if len(classes) != expected_classes:
        raise DataError(
            f"{dataset}: the training list has {len(classes)} classes, expected {expected_classes}: {classes}. "
            f"What to do: check the list file, or pass --expected-classes {len(classes)} if your release has that many"
        )
    bad = {
        e.clip_id: f"class {e.label!r} ({e.split}) is not one of the {len(classes)} training classes"
        for e in entries
        if e.label not in classes
    }
    listed = [e for e in entries if e.clip_id not in bad]
    bad |= {
        e.clip_id: f"listed, but {clip_dir / file_names[e.clip_id]} does not exist"
        for e in listed
        if not (clip_dir / file_names[e.clip_id]).is_file()
    }
    todo = [
        e.clip_id
        for e in listed
        if e.clip_id not in bad
        and not all((out / m / f"{e.clip_id}.npy").is_file() for m in ("audio", "visual"))
    ]
    tasks = [(clip_dir / file_names[c], out, c, spectrogram_name, frame_side) for c in todo]
    bad |= run_clips(_prepare_clip, tasks, todo, workers=workers, desc=dataset)
    skipped = report_bad(bad, strict, f"check or re-download these clips under {clip_dir}")
    good = [e for e in listed if e.clip_id not in bad]
    labels = {e.clip_id: classes.index(e.label) for e in good}
    train = sorted(e.clip_id for e in good if e.split == "train")
    train, val = stratified_split(train, [labels[c] for c in train], val_share, seed)
    splits = {
        "train": train,
        "val": val,
        "test": sorted(e.clip_id for e in good if e.split == "test"),
    }
    options = {
        "spectrogram": spectrogram_name,
        "frame_side": frame_side,
        "frames": FRAMES_PER_CLIP,
        "fps": 1.0,
        "val_share": val_share,
        "seed": seed,
        "expected_classes": expected_classes,
    }
    shapes = {
        "audio": list(get_spec(spectrogram_name).shape),
        "visual": [FRAMES_PER_CLIP, frame_side, frame_side, 3],
    }
    manifest = av_manifest(dataset, classes, labels, splits, options, shapes, skipped)
    write_manifest(out, manifest)
    return manifest
