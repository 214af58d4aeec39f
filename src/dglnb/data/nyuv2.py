"""NYU Depth v2 (labeled subset): prep from the official files, and the ``nyuv2`` segmentation loader.

Inputs:

* ``nyu_depth_v2_labeled.mat`` (MATLAB v7.3 = HDF5): ``images`` (h5py shape N x 3 x W x H, uint8),
  ``depths`` (N x W x H, metres), ``labels`` (N x W x H, 894 classes, 0 = unlabelled). MATLAB stores
  column-major, so each image is transposed back to H x W.
* ``splits.mat`` (MATLAB v5): ``trainNdxs`` (795) and ``testNdxs`` (654), 1-based image numbers.
* a 40-class mapping: a ``.mat`` holding ``mapClass`` (894 entries), or a ``.npy``/``.txt`` array of
  894 entries (class k at position k-1) or 895 (class k at position k, position 0 unused), with
  values 1-40 (0 = unlabelled).

Output: ``rgb/<id>.npy`` uint8 (H, W, 3), ``depth/<id>.npy`` float16 metres (H, W), ``label/<id>.npy``
uint8 (H, W) with classes 0-39 and 255 = ignore, ``manifest.json``. The id is the 1-based image
number, zero-padded. Validation is carved from the 795 training images (``val_share``, seeded).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import Dataset

from ..progress import progress
from . import DATASETS, DatasetInfo
from .errors import DataError, problems_error
from .prep import atomic_save_npy, read_manifest, stratified_split, write_manifest

NUM_CLASSES = 40
IGNORE = 255
DEPTH_SCALE = 10.0  # metres -> the network's depth input (roughly [0, 1])
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
# profile -> (height, width) the loader returns
INPUT_SIZES = {"smoke": (60, 80), "quick": (120, 160), "full": (480, 640)}


def read_mapping(path: Path) -> np.ndarray:
    """A lookup table from the 894 NYU classes (index = class, 0 = unlabelled) to 0-39 or 255."""
    path = Path(path)
    if not path.is_file():
        raise DataError(
            f"40-class mapping {path} does not exist. What to do: pass a .mat with mapClass or a .npy/.txt array"
        )
    try:
        if path.suffix == ".mat":
            from scipy.io import loadmat

            values = np.asarray(loadmat(path)["mapClass"]).reshape(-1)
        elif path.suffix == ".npy":
            values = np.load(path).reshape(-1)
        else:
            values = np.loadtxt(path).reshape(-1)
    except (OSError, ValueError, KeyError) as exc:
        raise DataError(
            f"40-class mapping {path} is unreadable ({exc}). What to do: pass a .mat with mapClass "
            "or a .npy/.txt array of 894 or 895 entries"
        ) from exc
    if values.size == 894:
        values = np.concatenate([[0], values])
    if values.size != 895 or values.min() < 0 or values.max() > NUM_CLASSES:
        raise DataError(
            f"40-class mapping {path}: {values.size} entries in [{values.min()}, {values.max()}], "
            "expected 894 or 895 entries in 0-40. What to do: pass the 40-class mapping"
        )
    table = np.where(values > 0, values - 1, IGNORE).astype(np.uint8)
    table[0] = IGNORE
    return table


def read_splits(path: Path, count: int) -> dict[str, list[int]]:
    """0-based train/test image indices from ``splits.mat`` (1-based), checked against ``count``."""
    from scipy.io import loadmat

    try:
        raw = loadmat(Path(path))
        splits = {
            s: (np.asarray(raw[k]).reshape(-1).astype(int) - 1).tolist()
            for s, k in (("train", "trainNdxs"), ("test", "testNdxs"))
        }
    except (OSError, ValueError, KeyError) as exc:
        raise DataError(
            f"{path} is not the official splits.mat with trainNdxs/testNdxs ({exc}). "
            "What to do: pass the splits.mat shipped with the labeled set"
        ) from exc
    outside = [
        f"{s}: image {i + 1}" for s, idx in splits.items() for i in idx if not 0 <= i < count
    ]
    if outside:
        raise problems_error(
            f"{path}: image numbers outside 1..{count}",
            outside,
            "use the splits.mat of this .mat file",
        )
    return splits


def prepare(
    mat: Path, splits_mat: Path, mapping: Path, out: Path, *, val_share: float = 0.1, seed: int = 0
) -> dict[str, Any]:
    """Write the prepared NYUv2 layout into ``out``; resumes by skipping finished images."""
    import h5py

    table = read_mapping(mapping)
    if not Path(mat).is_file():
        raise DataError(f"{mat} does not exist. What to do: pass nyu_depth_v2_labeled.mat")
    out = Path(out)
    try:
        handle = h5py.File(mat, "r")
    except OSError as exc:
        raise DataError(
            f"{mat} is not an HDF5 (MATLAB v7.3) file ({exc}). What to do: re-download it"
        ) from exc
    with handle:
        missing = [k for k in ("images", "depths", "labels") if k not in handle]
        if missing:
            raise DataError(f"{mat} lacks {missing}. What to do: pass nyu_depth_v2_labeled.mat")
        count = handle["images"].shape[0]
        splits = read_splits(splits_mat, count)
        images = sorted(i for idx in splits.values() for i in idx)
        for index in progress(images, desc="NYUv2", unit="image"):
            name = f"{index + 1:04d}"
            if all((out / m / f"{name}.npy").is_file() for m in ("rgb", "depth", "label")):
                continue
            atomic_save_npy(
                out / "rgb" / f"{name}.npy",
                np.ascontiguousarray(handle["images"][index].transpose(2, 1, 0)),
            )
            atomic_save_npy(
                out / "depth" / f"{name}.npy", handle["depths"][index].T.astype(np.float16)
            )
            atomic_save_npy(
                out / "label" / f"{name}.npy", table[handle["labels"][index].T.astype(np.int64)]
            )
        height, width = handle["depths"].shape[2], handle["depths"].shape[1]
    ids = {s: [f"{i + 1:04d}" for i in idx] for s, idx in splits.items()}
    train, val = stratified_split(ids["train"], [0] * len(ids["train"]), val_share, seed)
    manifest = {
        "dataset": "nyuv2",
        "num_classes": NUM_CLASSES,
        "ignore_index": IGNORE,
        "options": {
            "val_share": val_share,
            "seed": seed,
            "mapping": str(mapping),
            "official_sizes": {s: len(v) for s, v in ids.items()},
        },
        "shapes": {"rgb": [height, width, 3], "depth": [height, width], "label": [height, width]},
        "splits": {"train": train, "val": val, "test": sorted(ids["test"])},
    }
    write_manifest(out, manifest)
    return manifest


def normalise_rgb(rgb: torch.Tensor) -> torch.Tensor:
    """(3, H, W) colours in [0, 1] standardised with ImageNet's channel mean and std (as ESANet does)."""
    mean, std = torch.tensor(IMAGENET_MEAN).view(3, 1, 1), torch.tensor(IMAGENET_STD).view(3, 1, 1)
    return (rgb - mean) / std


class NYUv2(Dataset):
    """RGB (3, H, W) + depth (1, H, W) + label (H, W) long with 255 = ignore."""

    modalities = ("rgb", "depth")

    def __init__(self, root: Path | None, split: str, profile: str = "quick") -> None:
        self.manifest = read_manifest(root, "nyuv2")
        self.root = Path(root)  # type: ignore[arg-type]
        self.ids = list(self.manifest["splits"][split])
        missing = [
            str(self.root / m / f"{i}.npy")
            for i in self.ids
            for m in ("rgb", "depth", "label")
            if not (self.root / m / f"{i}.npy").is_file()
        ]
        if missing:
            raise problems_error(
                f"nyuv2 {split}: files listed in the manifest are missing",
                missing,
                "re-run data_prep/nyuv2.py with the same --out (it resumes)",
            )
        self.size = INPUT_SIZES[profile]
        self.info = DatasetInfo(
            name="nyuv2",
            modalities=self.modalities,
            kinds={"rgb": "image", "depth": "image"},
            num_classes=NUM_CLASSES,
            task="segmentation",
            shapes={"rgb": (3, *self.size), "depth": (1, *self.size)},
        )

    def __len__(self) -> int:
        return len(self.ids)

    def _load(self, modality: str, sample_id: str) -> torch.Tensor:
        return torch.from_numpy(
            np.load(self.root / modality / f"{sample_id}.npy").astype(np.float32)
        )

    def __getitem__(self, i: int) -> dict[str, Any]:
        sample_id = self.ids[i]
        rgb = self._load("rgb", sample_id).permute(2, 0, 1)[None] / 255.0
        depth = self._load("depth", sample_id)[None, None] / DEPTH_SCALE
        label = self._load("label", sample_id)[None, None]
        if tuple(rgb.shape[-2:]) != self.size:
            rgb = F.interpolate(rgb, size=self.size, mode="bilinear", antialias=True)
            depth = F.interpolate(depth, size=self.size, mode="nearest")
            label = F.interpolate(label, size=self.size, mode="nearest")
        return {
            "rgb": normalise_rgb(rgb[0]),
            "depth": depth[0],
            "label": label[0, 0].long(),
            "id": sample_id,
        }


@DATASETS.register("nyuv2")
def load_nyuv2(
    split: str, *, profile: str = "quick", data_root: Path | None = None, seed: int = 0
) -> NYUv2:
    """NYUv2 prepared by ``data_prep/nyuv2.py``: 40 classes, 255 = ignore."""
    return NYUv2(data_root, split, profile)
