"""CREMA-D: prep from the public release and the ``cremad`` loader.

Raw layout: ``RAW/AudioWAV/<name>.wav`` and ``RAW/VideoFlash/<name>.flv`` with names such as
``1001_DFA_ANG_XX`` (actor, sentence, emotion, level); the label is the emotion code. The official
split files (``train.csv``/``test.csv``: ``FileName,LABEL`` rows, no header, LABEL the emotion code)
are used when given; otherwise a seeded stratified split with the same test share (744 of 7,442).
Validation is carved from train (stratified, seeded). Frames are kept at 1 fps, spectrograms
precomputed, so a training step never decodes video.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

from . import DATASETS
from .audio import file_spectrogram, get_spec
from .errors import problems_error
from .prep import (
    av_manifest,
    report_bad,
    require_dir,
    run_clips,
    save_av_sample,
    stratified_split,
    write_manifest,
)
from .prepared import PreparedAV
from .video import frames_per_second

CLASSES = ("NEU", "HAP", "SAD", "FEA", "DIS", "ANG")
TEST_SHARE = 744 / 7442


def label_of(name: str) -> int:
    """The class index of a clip name such as ``1001_DFA_ANG_XX``; ValueError outside the class list."""
    parts = name.split("_")
    if len(parts) != 4 or parts[2] not in CLASSES:
        raise ValueError(f"emotion code of {name!r} is not one of {', '.join(CLASSES)}")
    return CLASSES.index(parts[2])


def read_split_file(path: Path) -> dict[str, int]:
    """{name: label} from an official ``FileName,LABEL`` file (BOM and CRLF tolerated)."""
    rows: dict[str, int] = {}
    problems: list[str] = []
    with open(path, encoding="utf-8-sig", newline="") as handle:
        for line, row in enumerate(csv.reader(handle), start=1):
            if not row or not row[0].strip():
                continue
            name, code = row[0].strip(), (row[1].strip() if len(row) > 1 else "")
            label = CLASSES.index(code) if code in CLASSES else int(code) if code.isdigit() else -1
            if not 0 <= label < len(CLASSES):
                problems.append(f"{path}:{line}: label {code!r} is not one of {', '.join(CLASSES)}")
                continue
            rows[name] = label
    if problems:
        raise problems_error(
            "bad rows in a CREMA-D split file", problems, "fix or replace the split file"
        )
    return rows


def prepare_clip(task: tuple[Path, Path, Path, str, str, int, float]) -> str | None:
    """Write one clip's spectrogram and its video's frames at ``fps`` (an image is a one-frame video)
    as sample ``name``; return why it failed, or None. Task: (audio, video, out, name, spec, side, fps)."""
    audio, video, out, name, spec_name, frame_side, fps = task
    try:
        spec = file_spectrogram(audio, get_spec(spec_name))
    except Exception as exc:  # noqa: BLE001 - any decoding failure makes the clip bad
        return f"unreadable audio {audio}: {exc}"
    try:
        frames = frames_per_second(video, fps=fps, size=frame_side)
    except Exception as exc:  # noqa: BLE001
        return f"unreadable video {video}: {exc}"
    save_av_sample(out, name, spec, frames)
    return None


def prepare(
    raw: Path,
    out: Path,
    *,
    split_dir: Path | None = None,
    workers: int = 1,
    strict: bool = False,
    spectrogram_name: str = "paper",
    frame_side: int = 224,
    val_share: float = 0.1,
    seed: int = 0,
) -> dict[str, Any]:
    """Prepare CREMA-D from ``raw`` into ``out``; return the manifest. Resumes: finished clips are skipped."""
    fix = f"check the release under {raw} (AudioWAV/*.wav with matching VideoFlash/*.flv)"
    audio_dir = require_dir(
        Path(raw) / "AudioWAV",
        "CREMA-D audio",
        "point --raw at the CREMA-D release holding AudioWAV/",
    )
    video_dir = require_dir(
        Path(raw) / "VideoFlash",
        "CREMA-D video",
        "point --raw at the CREMA-D release holding VideoFlash/",
    )
    out = Path(out)
    wavs = {p.stem: p for p in audio_dir.glob("*.wav")}
    flvs = {p.stem: p for p in video_dir.glob("*.flv")}
    bad = {
        n: f"audio {wavs[n]} has no video {video_dir / (n + '.flv')}"
        for n in wavs.keys() - flvs.keys()
    }
    bad |= {
        n: f"video {flvs[n]} has no audio {audio_dir / (n + '.wav')}"
        for n in flvs.keys() - wavs.keys()
    }
    labels: dict[str, int] = {}
    for name in sorted(wavs.keys() & flvs.keys()):
        try:
            labels[name] = label_of(name)
        except ValueError as exc:
            bad[name] = f"{wavs[name]}: {exc}"
    todo = [
        n
        for n in sorted(labels)
        if not all((out / m / f"{n}.npy").is_file() for m in ("audio", "visual"))
    ]
    tasks = [(wavs[n], flvs[n], out, n, spectrogram_name, frame_side, 1.0) for n in todo]
    bad |= run_clips(prepare_clip, tasks, todo, workers=workers, desc="CREMA-D")
    skipped = report_bad(bad, strict, fix)
    good = {n: y for n, y in labels.items() if n not in bad}

    splits = _splits(good, split_dir, val_share, seed)
    options = {
        "spectrogram": spectrogram_name,
        "frame_side": frame_side,
        "fps": 1.0,
        "val_share": val_share,
        "seed": seed,
        "split_files": str(split_dir) if split_dir else None,
    }
    shapes = {
        "audio": list(get_spec(spectrogram_name).shape),
        "visual": [-1, frame_side, frame_side, 3],
    }
    manifest = av_manifest("cremad", CLASSES, good, splits, options, shapes, skipped)
    write_manifest(out, manifest)
    return manifest


def _splits(
    labels: dict[str, int], split_dir: Path | None, val_share: float, seed: int
) -> dict[str, list[str]]:
    """train/val/test ids: the official files when given (clips they list but we lack are reported)."""
    names = sorted(labels)
    if split_dir is None:
        train, test = stratified_split(names, [labels[n] for n in names], TEST_SHARE, seed)
    else:
        listed = {
            s: read_split_file(
                require_dir(
                    Path(split_dir), "split", "pass the folder holding train.csv and test.csv"
                )
                / f"{s}.csv"
            )
            for s in ("train", "test")
        }
        wrong = [
            f"{n}: split file says {CLASSES[y]}, file name says {CLASSES[labels[n]]}"
            for rows in listed.values()
            for n, y in rows.items()
            if n in labels and labels[n] != y
        ]
        if wrong:
            raise problems_error(
                "CREMA-D split files disagree with the clip names",
                wrong,
                "use the official split files",
            )
        absent = sorted(n for rows in listed.values() for n in rows if n not in labels)
        if absent:
            report_bad(
                {n: "listed in a split file but missing or bad in the release" for n in absent},
                False,
                "these clips are left out of the splits",
            )
        train, test = (sorted(n for n in listed[s] if n in labels) for s in ("train", "test"))
    train, val = stratified_split(train, [labels[n] for n in train], val_share, seed)
    return {"train": train, "val": val, "test": test}


@DATASETS.register("cremad")
def load_cremad(
    split: str, *, profile: str = "quick", data_root: Path | None = None, seed: int = 0
) -> PreparedAV:
    """CREMA-D prepared by ``data_prep/cremad.py``: one frame per clip (random when training; ``seed``, the
    data seed, is unused: the draws follow the run seed, see :mod:`dglnb.data.draws`)."""
    return PreparedAV(data_root, "cremad", split, profile=profile, frames=1)
