"""``dglnb data check``: validate a prepared dataset and summarise it."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import numpy as np

from . import SPLITS
from .errors import problems_error
from .prep import class_counts, read_manifest
from .prepared import split_entries


def _readable(path: Path, problems: list[str]) -> np.ndarray | None:
    try:
        return np.load(path, mmap_mode="r")
    except FileNotFoundError:
        problems.append(f"{path}: missing")
    except (OSError, ValueError) as exc:
        problems.append(f"{path}: unreadable ({exc})")
    return None


def check_av(name: str, root: Path) -> str:
    """Counts per split and class against the manifest, ids unique across splits, every file
    readable with the recorded shape, audio and frames paired by id."""
    manifest = read_manifest(root, name)
    audio_shape, visual_shape = (
        tuple(manifest["shapes"]["audio"]),
        tuple(manifest["shapes"]["visual"]),
    )
    problems: list[str] = []
    seen: dict[str, str] = {}
    lines = [
        f"{name} at {root}: {len(manifest['classes'])} classes, options {manifest.get('options', {})}"
    ]
    for split in SPLITS:
        ids, labels = split_entries(manifest, split, root)
        for sample_id in ids:
            if sample_id in seen:
                problems.append(f"id {sample_id} is in both {seen[sample_id]} and {split}")
            seen[sample_id] = split
            audio = _readable(root / "audio" / f"{sample_id}.npy", problems)
            visual = _readable(root / "visual" / f"{sample_id}.npy", problems)
            if audio is not None and audio.shape != audio_shape:
                problems.append(
                    f"{root / 'audio' / sample_id}.npy: shape {audio.shape}, manifest says {audio_shape}"
                )
            if visual is not None and (
                visual.ndim != 4
                or len(visual) < 1
                or any(want not in (-1, got) for want, got in zip(visual_shape, visual.shape))
            ):
                problems.append(
                    f"{root / 'visual' / sample_id}.npy: shape {visual.shape}, manifest says {visual_shape}"
                )
        lines.append(
            f"  {split:5s} {len(ids):6d} clips, per class {manifest['class_counts'][split]}"
        )
    if problems:
        raise problems_error(
            f"{name} at {root} failed the check",
            problems,
            f"re-run data_prep/{name}.py with the same --out: it rewrites missing clips",
        )
    skipped = manifest.get("skipped", [])
    lines.append(
        f"  all {len(seen)} clips readable, shapes audio {audio_shape} visual {visual_shape}; "
        f"{len(skipped)} clip(s) skipped at prep (listed in manifest.json)"
    )
    return "\n".join(lines)


def check_mosi(name: str, root: Path) -> str:
    """Every split readable, modalities of equal length, ids unique; sizes and class balance."""
    from .mosi import MOSI

    lines, seen = [], set()
    for split in SPLITS:
        data = MOSI(root, split)
        duplicates = seen & set(data.ids)
        if duplicates:
            raise problems_error(
                f"{data.path}: ids in more than one split",
                sorted(duplicates),
                "re-download the pickle",
            )
        seen |= set(data.ids)
        lines.append(
            f"  {split:5s} {len(data):5d} samples (neutral excluded), negative/positive "
            f"{class_counts(data.labels, 2)}"
        )
    shapes = {m: tuple(f.shape[1:]) for m, f in data.features.items()}
    return "\n".join([f"mosi from {data.path} ({data.format} format), shapes {shapes}", *lines])


def check_nyuv2(name: str, root: Path) -> str:
    """Every image readable with the recorded shape, labels in 0-39 or 255, ids unique."""
    manifest = read_manifest(root, name)
    shapes = {m: tuple(s) for m, s in manifest["shapes"].items()}
    problems: list[str] = []
    ids = [i for split in SPLITS for i in manifest["splits"][split]]
    problems += [
        f"id {i} is in more than one split" for i in sorted({i for i in ids if ids.count(i) > 1})
    ]
    for sample_id in ids:
        for modality, shape in shapes.items():
            array = _readable(root / modality / f"{sample_id}.npy", problems)
            if array is not None and array.shape != shape:
                problems.append(
                    f"{root / modality / sample_id}.npy: shape {array.shape}, manifest says {shape}"
                )
            elif (
                array is not None
                and modality == "label"
                and not np.isin(array, [*range(40), 255]).all()
            ):
                problems.append(f"{root / modality / sample_id}.npy: labels outside 0-39 and 255")
    if problems:
        raise problems_error(
            f"{name} at {root} failed the check",
            problems,
            "re-run data_prep/nyuv2.py with the same --out: it rewrites missing images",
        )
    sizes = ", ".join(f"{s} {len(manifest['splits'][s])}" for s in SPLITS)
    return f"nyuv2 at {root}: {sizes}; all {len(ids)} images readable, shapes {shapes}"


def check_avdigits(name: str, root: Path) -> str:
    """AV-Digits is generated, not prepared: report its cache folder and split sizes."""
    from ..paths import cache_dir
    from .avdigits import cached

    split = np.asarray(cached()["split"])
    sizes = ", ".join(f"{s} {int((split == k).sum())}" for k, s in enumerate(SPLITS))
    return f"avdigits (embedded; --data-root is not used) cached in {cache_dir()}: {sizes}"


CHECKS: dict[str, Callable[[str, Path], str]] = {
    "avdigits": check_avdigits,
    "cremad": check_av,
    "kinetics_sounds": check_av,
    "av_folder": check_av,
    "vggsound": check_av,
    "mosi": check_mosi,
    "nyuv2": check_nyuv2,
}


def check_dataset(name: str, data_root: Path) -> str:
    """Validate the prepared dataset ``name`` under ``data_root``; return a summary or raise DataError."""
    if name not in CHECKS:
        raise ValueError(
            f"no check for dataset {name!r}; checkable datasets: {', '.join(sorted(CHECKS))}"
        )
    return CHECKS[name](name, Path(data_root))
