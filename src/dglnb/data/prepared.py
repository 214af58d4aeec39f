"""Reading an audio-visual dataset written by ``data_prep/`` (CREMA-D, Kinetics-Sounds, VGGSound).

Layout of a prepared folder::

    manifest.json         classes, options, per split the ids and labels, class counts, stored shapes
    audio/<id>.npy        float16 log spectrogram (F, T)
    visual/<id>.npy       uint8 RGB frames (T, H, W, 3)

Modalities are paired by id: both files of a sample are named by it. Inputs shrink per profile
(``INPUT_SIZES``) so that CPU runs stay affordable; ``full`` keeps the prepared sizes. With one frame
per clip, training draws that frame at random in every epoch (:mod:`dglnb.data.draws`: a function of
run seed, epoch and sample); evaluation, and a training split never told an epoch, take the first.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import Dataset

from . import DatasetInfo
from .draws import EpochDraws
from .errors import DataError, problems_error
from .prep import class_counts, read_manifest

# profile -> (frame side in pixels, spectrogram average-pooling factor); None keeps the prepared size
INPUT_SIZES: dict[str, tuple[int | None, int]] = {
    "smoke": (32, 4),
    "quick": (64, 2),
    "full": (None, 1),
}
IMAGENET_MEAN = torch.tensor([0.485, 0.456, 0.406]).view(3, 1, 1, 1)
IMAGENET_STD = torch.tensor([0.229, 0.224, 0.225]).view(3, 1, 1, 1)


def split_entries(manifest: dict[str, Any], split: str, root: Path) -> tuple[list[str], list[int]]:
    """(ids, labels) of ``split``, checked against the manifest's class counts."""
    if split not in manifest["splits"]:
        raise DataError(
            f"{root / 'manifest.json'} has no split {split!r}. What to do: re-run the data_prep script"
        )
    entry = manifest["splits"][split]
    ids, labels = list(entry["ids"]), [int(y) for y in entry["labels"]]
    num_classes = len(manifest["classes"])
    outside = [f"{i}: label {y}" for i, y in zip(ids, labels) if not 0 <= y < num_classes]
    if outside:
        raise problems_error(
            f"labels outside the {num_classes} classes in {root / 'manifest.json'}",
            outside,
            "re-run the data_prep script",
        )
    counted, recorded = class_counts(labels, num_classes), manifest["class_counts"][split]
    if counted != recorded:
        raise DataError(
            f"{root / 'manifest.json'}: {split} class counts {counted} differ from the recorded {recorded}. "
            "What to do: the manifest was edited or truncated; re-run the data_prep script"
        )
    return ids, labels


def frame_picks(stored: int, frames: int, rng: np.random.Generator | None) -> list[int]:
    """Which of a clip's ``stored`` frames it shows: one drawn by ``rng`` when given (the paper's "one
    frame per clip", drawn afresh each epoch when training), else ``frames`` evenly spaced (one: the first)."""
    if rng is not None:
        return [int(rng.integers(stored))]
    return np.linspace(0, stored - 1, frames).round().astype(int).tolist() if frames > 1 else [0]


def spectrogram_input(spec: torch.Tensor, pool: int) -> torch.Tensor:
    """Stored spectrograms (..., F, T) (float16) -> model input (..., 1, F / pool, T / pool), float32."""
    spec = spec.float().unsqueeze(-3)
    if pool == 1:
        return spec
    pooled = F.avg_pool2d(spec.reshape(-1, 1, *spec.shape[-2:]), pool)
    return pooled.reshape(*spec.shape[:-2], *pooled.shape[-2:])


def frames_input(frames: torch.Tensor, side: int | None) -> torch.Tensor:
    """Stored frames (..., T, H, W, 3) (uint8) -> model input (..., 3, T, side, side): float in [0, 1],
    resized (bilinear, antialiased) when ``side`` is set, ImageNet-normalised."""
    video = frames.movedim(-1, -4).float().div_(255)  # (..., 3, T, H, W)
    if side and video.shape[-1] != side:
        planes = F.interpolate(
            video.reshape(-1, *video.shape[-3:]), size=(side, side), mode="bilinear", antialias=True
        )
        video = planes.reshape(*video.shape[:-2], side, side)
    mean, std = IMAGENET_MEAN.to(video.device), IMAGENET_STD.to(video.device)
    # in the plain layout: the moved channel axis would leave it strided channels-last, which sends a
    # CPU's convolutions down oneDNN's faulty channels-last path (dglnb.train.speed.channels_last_is_sound)
    return ((video - mean) / std).contiguous()


def missing_files(root: Path, ids: list[str], modalities: tuple[str, ...]) -> list[str]:
    """Every ``<modality>/<id>.npy`` that does not exist."""
    return [
        str(root / m / f"{i}.npy")
        for i in ids
        for m in modalities
        if not (root / m / f"{i}.npy").is_file()
    ]


class PreparedAV(EpochDraws, Dataset):
    """Audio spectrogram (1, F, T) + frames (3, T, H, W) + label, read from a prepared folder."""

    modalities = ("audio", "visual")

    def __init__(
        self, root: Path | None, dataset: str, split: str, *, profile: str, frames: int
    ) -> None:
        self.manifest = read_manifest(root, dataset)
        self.root = Path(root)  # type: ignore[arg-type]
        self.ids, self.labels = split_entries(self.manifest, split, self.root)
        missing = missing_files(self.root, self.ids, self.modalities)
        if missing:
            raise problems_error(
                f"{dataset} {split}: files listed in the manifest are missing",
                missing,
                "re-run the data_prep script with the same --out (it resumes)",
            )
        self.frames = frames
        self.random_frames = split == "train" and frames == 1
        self.frame_side, self.pool = INPUT_SIZES[profile]
        freq, time = self.manifest["shapes"]["audio"]
        side = self.frame_side or self.manifest["shapes"]["visual"][1]
        self.info = DatasetInfo(
            name=dataset,
            modalities=self.modalities,
            kinds={"audio": "spectrogram", "visual": "frames"},
            num_classes=len(self.manifest["classes"]),
            shapes={
                "audio": (1, freq // self.pool, time // self.pool),
                "visual": (3, frames, side, side),
            },
        )

    def __len__(self) -> int:
        return len(self.ids)

    def _audio(self, sample_id: str) -> torch.Tensor:
        return spectrogram_input(
            torch.from_numpy(np.load(self.root / "audio" / f"{sample_id}.npy")), self.pool
        )

    def _visual(self, index: int) -> torch.Tensor:
        stored = np.load(self.root / "visual" / f"{self.ids[index]}.npy")
        picks = frame_picks(
            len(stored), self.frames, self.rng(index) if self.random_frames else None
        )
        return frames_input(torch.from_numpy(stored[picks]), self.frame_side)

    def __getitem__(self, index: int) -> dict[str, Any]:
        sample_id = self.ids[index]
        return {
            "audio": self._audio(sample_id),
            "visual": self._visual(index),
            "label": self.labels[index],
            "id": sample_id,
        }
