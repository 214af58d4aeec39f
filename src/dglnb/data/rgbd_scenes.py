"""Embedded RGB-D scenes (``rgbd_scenes``): small indoor-like images with colour, depth and per-pixel
labels, generated deterministically, for the segmentation chapter without NYUv2.

Every scene is a wall (a fronto-parallel plane 2.5-4 m away) above a floor (a plane receding from
1-1.6 m at the bottom row to the wall at a random horizon), with three to five objects drawn far to
near (nearer ones occlude). Six classes, each with a colour cue and a depth cue:

============  ====================================  =============================================
class         colour                                depth
============  ====================================  =============================================
wall          pale, random per scene                the far plane
floor         brown, random per scene               a plane receding to the wall
picture       rectangle on the wall, yellow-green   flush with the wall (2 cm in front)
cabinet       the same rectangles and colours       a flat front 0.5-1.2 m in front of the wall
red_cushion   disc anywhere, red                    0.3-0.8 m in front of what is behind, a bulge
blue_cushion  the same discs, blue                  the same
============  ====================================  =============================================

So some pairs are separable only by depth (picture and cabinet: same shapes, places and colours)
and some only by colour (red and blue cushions: same shapes and depths; picture and wall: 2 cm
apart, below the depth noise): each modality alone is clearly worse than both. Colour tells most
classes pixel by pixel, while depth tells a cabinet only relative to the wall around it, so RGB is
the modality a jointly trained model learns first (it dominates, as the easy modality does in the
paper's audio-visual sets).

Sensor-like depth (after Kinect v1): Gaussian noise of standard deviation 0.01 + 0.004 d^2 metres,
missing depth (0) in a few random blobs and in a 1-2 pixel shadow left of each object that stands
out from the wall. Missing-depth pixels are labelled ``IGNORE_INDEX`` (255): neither the loss nor the
scores use a pixel whose depth is unknown. Colours get a global illumination factor and pixel noise.

Inputs as the ``nyuv2`` loader gives them: ``rgb`` (3, S, S) standardised with ImageNet's statistics,
``depth`` (1, S, S) in metres / 10 (0 where missing), ``label`` (S, S) long. Scene ``i`` of a split
depends only on the dataset seed, the split and ``i`` (a smaller profile's scenes are the first
scenes of a larger one's at the same side).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from ..metrics import IGNORE_INDEX
from . import DATASETS, DatasetInfo
from .nyuv2 import DEPTH_SCALE, normalise_rgb
from .synthetic import TensorMultimodalDataset

CLASSES = ("wall", "floor", "picture", "cabinet", "red_cushion", "blue_cushion")
WALL, FLOOR, PICTURE, CABINET, RED, BLUE = range(len(CLASSES))
DATA_SEED = 0
SIDES = {"smoke": 32, "quick": 32, "full": 64}  # image side in pixels
SIZES = {
    "smoke": (16, 8, 8),
    "quick": (320, 64, 160),
    "full": (4000, 500, 1000),
}  # train, val, test
_SPLIT_INDEX = {"train": 0, "val": 1, "test": 2}
COLOURS = {  # per-channel uniform ranges of an object's colour
    PICTURE: ((0.3, 0.85), (0.45, 0.85), (0.1, 0.4)),
    CABINET: ((0.3, 0.85), (0.45, 0.85), (0.1, 0.4)),
    RED: ((0.6, 0.85), (0.1, 0.3), (0.1, 0.3)),
    BLUE: ((0.1, 0.3), (0.2, 0.4), (0.6, 0.85)),
}


def _colour(rng: np.random.Generator, ranges) -> np.ndarray:
    return np.array([rng.uniform(low, high) for low, high in ranges])[:, None, None]


def draw_scene(rng: np.random.Generator, side: int) -> dict[str, np.ndarray]:
    """One scene: ``rgb`` (3, S, S) in [0, 1], ``depth`` (S, S) metres with 0 = missing, ``label`` (S, S) uint8."""
    row, col = (np.mgrid[0:side, 0:side] + 0.5) / side
    horizon, wall_depth, near = (
        rng.uniform(0.55, 0.75),
        rng.uniform(2.5, 4.0),
        rng.uniform(1.0, 1.6),
    )
    floor = row >= horizon
    depth = np.where(
        floor, wall_depth + (near - wall_depth) * (row - horizon) / (1 - horizon), wall_depth
    )
    label = np.where(floor, FLOOR, WALL)
    wall_rgb = rng.uniform(0.55, 0.9, 3)[:, None, None]
    floor_rgb = _colour(rng, ((0.35, 0.6), (0.22, 0.42), (0.1, 0.28)))
    rgb = np.where(floor, floor_rgb, wall_rgb)

    objects = []
    for cls in rng.choice([PICTURE, CABINET, RED, BLUE], size=rng.integers(3, 6)):
        if cls in (PICTURE, CABINET):
            w, h = rng.uniform(0.15, 0.35, 2)
            x0, y0 = rng.uniform(0, 1 - w), rng.uniform(0, max(horizon - h, 0.0))
            mask = (col >= x0) & (col < x0 + w) & (row >= y0) & (row < y0 + h)
            front = wall_depth - (0.02 if cls == PICTURE else rng.uniform(0.5, 1.2))
            surface = np.full_like(depth, front)
        else:
            r = rng.uniform(0.08, 0.14)
            cx, cy = rng.uniform(r, 1 - r, 2)
            rho2 = ((col - cx) ** 2 + (row - cy) ** 2) / r**2
            mask = rho2 < 1
            behind = depth[min(int(cy * side), side - 1), min(int(cx * side), side - 1)]
            front = max(behind - rng.uniform(0.3, 0.8), 0.6)
            surface = front - 0.25 * np.sqrt(np.clip(1 - rho2, 0, 1))
        objects.append((front, cls, mask, surface, _colour(rng, COLOURS[cls])))
    for _front, cls, mask, surface, colour in sorted(objects, key=lambda o: -o[0]):  # far to near
        depth = np.where(mask, surface, depth)
        label = np.where(mask, cls, label)
        rgb = np.where(mask, colour, rgb)

    rgb = np.clip(rgb * rng.uniform(0.75, 1.15) + rng.normal(0, 0.03, rgb.shape), 0, 1)
    depth = depth + rng.normal(0, 1, depth.shape) * (0.01 + 0.004 * depth**2)
    missing = np.zeros_like(floor)
    for _ in range(rng.integers(1, 4)):  # blobs of missing depth
        cx, cy, rx, ry = rng.uniform(0, 1), rng.uniform(0, 1), *rng.uniform(0.03, 0.08, 2)
        missing |= ((col - cx) / rx) ** 2 + ((row - cy) / ry) ** 2 < 1
    for front, cls, mask, _, _ in objects:  # the shadow left of what stands out from the wall
        if cls != PICTURE:
            shift = int(rng.integers(1, 3))
            left = np.zeros_like(mask)
            left[:, :-shift] = mask[:, shift:]
            for s in range(1, shift):
                left[:, :-s] |= mask[:, s:]
            missing |= left & (label != cls) & (depth > front + 0.2)
    depth = np.where(missing, 0.0, depth)
    label = np.where(missing, IGNORE_INDEX, label)
    return {
        "rgb": rgb.astype(np.float32),
        "depth": depth.astype(np.float32),
        "label": label.astype(np.uint8),
    }


def generate(n: int, split: str, side: int, data_seed: int = DATA_SEED) -> dict[str, np.ndarray]:
    """Scenes 0..n-1 of ``split``, stacked: ``rgb`` (n, 3, S, S), ``depth`` (n, S, S), ``label`` (n, S, S)."""
    scenes = [
        draw_scene(
            np.random.default_rng(
                np.random.SeedSequence(data_seed, spawn_key=(_SPLIT_INDEX[split], i))
            ),
            side,
        )
        for i in range(n)
    ]
    return {k: np.stack([s[k] for s in scenes]) for k in ("rgb", "depth", "label")}


@DATASETS.register("rgbd_scenes")
def load_rgbd_scenes(
    split: str, *, profile: str = "quick", data_root: Path | None = None, seed: int = DATA_SEED
):
    """The embedded RGB-D scenes (see the module docstring); ``seed`` is the dataset seed."""
    side = SIDES.get(profile, SIDES["quick"])
    n = SIZES.get(profile, SIZES["quick"])[_SPLIT_INDEX[split]]
    arrays = generate(n, split, side, seed)
    info = DatasetInfo(
        name="rgbd_scenes",
        modalities=("rgb", "depth"),
        kinds={"rgb": "image", "depth": "image"},
        num_classes=len(CLASSES),
        task="segmentation",
        class_names=CLASSES,
        shapes={"rgb": (3, side, side), "depth": (1, side, side)},
    )
    inputs = {
        "rgb": normalise_rgb(torch.from_numpy(arrays["rgb"])),
        "depth": torch.from_numpy(arrays["depth"])[:, None] / DEPTH_SCALE,
    }
    ids = [f"{split}-{i:05d}" for i in range(n)]
    return TensorMultimodalDataset(info, inputs, torch.from_numpy(arrays["label"]).long(), ids)
