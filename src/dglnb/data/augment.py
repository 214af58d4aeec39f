"""The visual training augmentation of the official code, batched on the batch's device.

The official CREMA-D loader trains on ``RandomResizedCrop(224)`` + ``RandomHorizontalFlip()`` and
evaluates on a plain resize. :class:`Augment` does the same to a whole batch of frames at once: per
sample a crop box drawn as torchvision draws it (area share in ``scale``, aspect ratio log-uniform in
``ratio``, up to 10 tries, then the central crop of the nearest allowed ratio) and a mirror with
probability ``flip``, all frames of a clip sharing them; then one ``grid_sample`` resizes every crop
to ``size`` (bilinear, sampling only inside the box: the same as cropping, then
``F.interpolate(..., align_corners=False)`` without antialiasing). It runs after the
ImageNet normalisation, which commutes with it (bilinear weights sum to one, crops lie inside the image).

The draws come from an explicit CPU ``torch.Generator``, so a batch augments the same way on any
device; :func:`step_generator` seeds it from (run seed, epoch, step), so a resumed run repeats them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Mapping

import numpy as np
import torch
import torch.nn.functional as F

from ..errors import ConfigError

ATTEMPTS = 10  # torchvision's tries before it falls back to a central crop
STREAM = (
    0x61756720  # keeps these seeds apart from the datasets' per-sample draws (dglnb.data.draws)
)


# Picture modalities of classification datasets: video frames (CREMA-D and the like) and AV-Digits'
# images. Segmentation inputs are never augmented here (their label maps would need the same crop).
AUGMENTED_KINDS = ("frames", "image")


def step_generator(seed: int, epoch: int, step: int) -> torch.Generator:
    """The CPU generator of training step ``step`` in ``epoch`` of the run seeded ``seed``."""
    state = np.random.SeedSequence((seed, epoch, step, STREAM)).generate_state(1, np.uint64)[0]
    return torch.Generator().manual_seed(int(state))


def crop_boxes(
    batch: int,
    height: int,
    width: int,
    generator: torch.Generator,
    *,
    scale: tuple[float, float] = (0.08, 1.0),
    ratio: tuple[float, float] = (3 / 4, 4 / 3),
) -> torch.Tensor:
    """(batch, 4) crop boxes ``(top, left, height, width)`` in whole pixels, drawn as torchvision's
    ``RandomResizedCrop.get_params`` draws one (float64 on the CPU)."""
    area = height * width
    target = (
        torch.empty(batch, ATTEMPTS, dtype=torch.float64).uniform_(*scale, generator=generator)
        * area
    )
    aspect = torch.exp(
        torch.empty(batch, ATTEMPTS, dtype=torch.float64).uniform_(
            math.log(ratio[0]), math.log(ratio[1]), generator=generator
        )
    )
    w, h = torch.sqrt(target * aspect).round(), torch.sqrt(target / aspect).round()
    fits = (w > 0) & (w <= width) & (h > 0) & (h <= height)
    first = fits.to(torch.uint8).argmax(
        dim=1, keepdim=True
    )  # the first try that fits, as torchvision stops there
    w, h = w.gather(1, first)[:, 0], h.gather(1, first)[:, 0]
    fallback_w, fallback_h = (
        float(width),
        float(height),
    )  # central crop, ratio clamped into the range
    if width / height < min(ratio):
        fallback_h = float(round(width / min(ratio)))
    elif width / height > max(ratio):
        fallback_w = float(round(height * max(ratio)))
    found = fits.any(dim=1)
    w = torch.where(found, w, torch.full_like(w, fallback_w))
    h = torch.where(found, h, torch.full_like(h, fallback_h))
    top = torch.where(
        found,
        (torch.rand(batch, dtype=torch.float64, generator=generator) * (height - h + 1)).floor(),
        ((height - h) / 2).floor(),
    )
    left = torch.where(
        found,
        (torch.rand(batch, dtype=torch.float64, generator=generator) * (width - w + 1)).floor(),
        ((width - w) / 2).floor(),
    )
    return torch.stack([top, left, h, w], dim=1)


def resized_crop(
    frames: torch.Tensor, boxes: torch.Tensor, mirror: torch.Tensor, size: int
) -> torch.Tensor:
    """Each sample's box of ``frames`` (B, C, H, W) or (B, C, T, H, W; one box for all T), resized to
    ``size`` x ``size`` bilinearly and mirrored left-right where ``mirror`` (B,) is true."""
    if frames.dim() not in (4, 5) or not frames.is_floating_point():
        raise ValueError(
            f"expected float frames (B, C, H, W) or (B, C, T, H, W), got {tuple(frames.shape)} {frames.dtype}"
        )
    height, width = frames.shape[-2:]
    top, left, h, w = boxes.to(torch.float64).unbind(1)
    sign = 1.0 - 2.0 * mirror.to(torch.float64)
    zeros = torch.zeros_like(w)
    # output coordinate u in [-1, 1] -> input coordinate of the box (align_corners=False convention)
    theta = torch.stack(
        [
            torch.stack([sign * w / width, zeros, (2 * left + w) / width - 1], dim=1),
            torch.stack([zeros, h / height, (2 * top + h) / height - 1], dim=1),
        ],
        dim=1,
    )
    # sample only inside the box (as resizing the cropped image does): clamp to its outer pixel centres
    low = torch.stack([(2 * left + 1) / width, (2 * top + 1) / height], dim=1) - 1
    high = torch.stack([(2 * (left + w) - 1) / width, (2 * (top + h) - 1) / height], dim=1) - 1
    # the (B, size, size, 2) grid is built where the frames are: built on the CPU and copied over, it
    # went with an augmentation of about 35 ms a batch of 64 at 224 x 224 on an H200 (more than the
    # training step); on a CPU nothing changes
    theta, low, high = (t.to(frames.device) for t in (theta, low, high))
    grid = F.affine_grid(theta, [len(frames), 1, size, size], align_corners=False)
    grid = torch.maximum(torch.minimum(grid, high[:, None, None]), low[:, None, None])
    planes = frames.reshape(len(frames), -1, height, width)
    out = F.grid_sample(
        planes,
        grid.to(frames.dtype),
        mode="bilinear",
        padding_mode="border",
        align_corners=False,
    )
    return out.reshape(*frames.shape[:-2], size, size)


@dataclass(frozen=True)
class Augment:
    """Random resized crop + horizontal flip of a training batch's frames; identity unless ``enabled``.
    ``size`` is the output side (default: the input's)."""

    enabled: bool = True
    scale: tuple[float, float] = (0.08, 1.0)
    ratio: tuple[float, float] = (3 / 4, 4 / 3)
    flip: float = 0.5
    size: int | None = None

    def __post_init__(self) -> None:
        if not (
            0 < self.scale[0] <= self.scale[1] <= 1
            and 0 < self.ratio[0] <= self.ratio[1]
            and 0 <= self.flip <= 1
        ):
            raise ConfigError(
                f"augmentation needs 0 < scale[0] <= scale[1] <= 1, 0 < ratio[0] <= ratio[1] and "
                f"0 <= flip <= 1; got scale={self.scale}, ratio={self.ratio}, flip={self.flip}"
            )

    def __call__(self, frames: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """``frames`` (B, C, H, W) or (B, C, T, H, W), augmented with draws from ``generator``."""
        if not self.enabled:
            return frames
        height, width = frames.shape[-2:]
        boxes = crop_boxes(
            len(frames), height, width, generator, scale=self.scale, ratio=self.ratio
        )
        mirror = torch.rand(len(frames), generator=generator) < self.flip
        return resized_crop(frames, boxes, mirror, self.size or width)

    def batch(
        self, batch: Mapping[str, Any], kinds: Mapping[str, str], generator: torch.Generator
    ) -> dict[str, Any]:
        """``batch`` with every modality of an augmented kind (``DatasetInfo.kinds``) augmented."""
        return {
            k: self(v, generator) if kinds.get(k) in AUGMENTED_KINDS else v
            for k, v in batch.items()
        }
