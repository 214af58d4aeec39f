"""Datasets by name.

Every dataset is a ``torch.utils.data.Dataset`` whose items are dicts: one float tensor per modality
(keyed by modality name), ``"label"`` (int, or a long tensor for segmentation) and ``"id"`` (str,
the sample id that pairs the modalities). ``info`` describes it (:class:`DatasetInfo`).

A loader is registered with ``@DATASETS.register(name)`` and called as
``loader(split, profile=..., data_root=..., seed=...)`` with split in ``train``/``val``/``test``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping

import torch

from ..registry import Registry

SPLITS = ("train", "val", "test")


@dataclass(frozen=True)
class DatasetInfo:
    """What a model needs to know about a dataset."""

    name: str
    modalities: tuple[str, ...]
    kinds: dict[str, str]  # modality -> "spectrogram" | "frames" | "vector" | "sequence" | "image"
    num_classes: int
    task: str = "classification"  # or "segmentation"
    shapes: dict[str, tuple[int, ...]] = field(default_factory=dict)  # per-sample tensor shapes
    class_names: tuple[str, ...] = ()  # by class index, where the dataset names its classes


DATASETS: Registry[Callable] = Registry("dataset")


def to_device(batch: Mapping[str, Any], device: torch.device) -> dict[str, Any]:
    """A batch with its tensors moved to ``device`` (ids stay a list of str)."""
    return {
        k: v.to(device, non_blocking=True) if torch.is_tensor(v) else v for k, v in batch.items()
    }


def load_dataset(
    name: str, split: str, *, profile: str = "quick", data_root: Path | None = None, seed: int = 0
):
    """The ``split`` of dataset ``name`` (a Dataset with an ``info`` attribute)."""
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; valid splits: {', '.join(SPLITS)}")
    return DATASETS.get(name)(split, profile=profile, data_root=data_root, seed=seed)


# Each dataset module registers itself; one line per dataset (in this order: isort leaves them).
# isort: off
from . import synthetic  # noqa: E402,F401
from . import synthetic_seq  # noqa: E402,F401
from . import avdigits  # noqa: E402,F401
from . import cremad  # noqa: E402,F401
from . import kinetics_sounds  # noqa: E402,F401
from . import vggsound  # noqa: E402,F401
from . import mosi  # noqa: E402,F401
from . import nyuv2  # noqa: E402,F401
from . import rgbd_scenes  # noqa: E402,F401
from . import av_folder  # noqa: E402,F401
# isort: on
