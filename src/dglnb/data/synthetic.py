"""Synthetic multimodal benchmark with a controlled imbalance (``synthetic``, ``synthetic3``).

Two 64-dimensional vector modalities describe one of ``K = 10`` classes. Every class ``y`` has
three random unit prototypes: ``u_coarse[y // 2]`` (shared by the class pair ``{2j, 2j+1}``),
``u_fine[y]`` and ``u_hard[y]``; every sample adds isotropic Gaussian noise of standard deviation
0.125 per dimension (a noise vector of norm about 1).

* ``easy`` = 3.0 * u_coarse[y // 2] + 0.15 * u_fine[y] + noise. It tells the class *pair* at once
  (a linear model learns it in a few steps) but holds only a faint cue for the class within the
  pair: alone it reaches about 72 % test accuracy.
* ``hard`` = 0.45 * s * u_hard[y] + noise, with a random sign ``s = ±1`` per sample. It carries the
  full label, but the sign flip makes it linearly inseparable (``+u`` and ``-u`` share a class), so
  an encoder must learn a nonlinear feature, slowly: alone an MLP reaches about 83 %.

The two are complementary (the pair from ``easy``, the class within it from ``hard``), so a model
that learns both is near 100 %. A jointly trained concat model fits the training set mostly through
``easy`` and leaves ``hard``'s encoder far below its unimodal level, the imbalance DGL targets.
With 1000 training samples (and the quick profile's MLP encoders, lr 0.04) the effect is large;
with 4000 training samples, or without the sign flip, it shrinks or disappears.

``synthetic3`` adds a third modality for the three-modality experiments:

* ``faint`` = 0.35 * u_faint[y] + noise: the full label, linearly separable but at a low
  signal-to-noise ratio (alone about 75 %). It sits between the two others: slower than ``easy``,
  but learnable by a linear head, unlike ``hard``.

Labels are balanced (``n / K`` per class, shuffled). Splits: train 1000, val 1000, test 4000
(smoke: 128 / 128 / 256). Every tensor is a deterministic function of the dataset seed
(:data:`DATA_SEED` unless a loader is given another): the prototypes and each split come from
independent children of one ``numpy.random.SeedSequence``, so the task is the same for every
training seed and the same tensors come back on every call.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from . import DATASETS, DatasetInfo

DATA_SEED = 0  #: the dataset seed every loader uses unless given another
NUM_CLASSES = 10
DIM = 64
NOISE = 0.125
SIZES = {  # profile -> (train, val, test)
    "smoke": (128, 128, 256),
    "quick": (1000, 1000, 4000),
    "full": (1000, 1000, 4000),
}
_SPLIT_INDEX = {"train": 0, "val": 1, "test": 2}


class TensorMultimodalDataset(Dataset):
    """In-memory samples: one ``(n, ...)`` float tensor per modality, labels (``(n,)``, or ``(n, H, W)``
    for segmentation) and ids."""

    def __init__(
        self,
        info: DatasetInfo,
        inputs: dict[str, torch.Tensor],
        labels: torch.Tensor,
        ids: list[str],
    ):
        self.info = info
        self.inputs = inputs
        self.labels = labels
        self.ids = ids

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i: int) -> dict:
        item = {m: x[i] for m, x in self.inputs.items()}
        label = self.labels[i]
        item["label"] = int(label) if label.ndim == 0 else label
        item["id"] = self.ids[i]
        return item


def _unit(rng: np.random.Generator, n: int) -> np.ndarray:
    """``n`` random unit vectors in ``DIM`` dimensions."""
    u = rng.standard_normal((n, DIM))
    return u / np.linalg.norm(u, axis=1, keepdims=True)


def _prototypes(rng: np.random.Generator) -> dict[str, np.ndarray]:
    """The class prototypes of the generator (fixed by the dataset seed)."""
    return {
        "coarse": _unit(rng, NUM_CLASSES // 2),
        "fine": _unit(rng, NUM_CLASSES),
        "hard": _unit(rng, NUM_CLASSES),
        "faint": _unit(rng, NUM_CLASSES),
    }


def generate(
    n: int, split: str, *, three: bool = False, data_seed: int = DATA_SEED
) -> dict[str, np.ndarray]:
    """Draw ``n`` samples of ``split``: arrays ``easy``, ``hard`` (, ``faint``) of shape (n, 64) and ``label``."""
    proto_seq, *split_seqs = np.random.SeedSequence(data_seed).spawn(1 + len(_SPLIT_INDEX))
    protos = _prototypes(np.random.default_rng(proto_seq))
    rng = np.random.default_rng(split_seqs[_SPLIT_INDEX[split]])

    y = rng.permutation(np.arange(n) % NUM_CLASSES)
    sign = rng.choice([-1.0, 1.0], size=(n, 1))

    def noise() -> np.ndarray:
        return NOISE * rng.standard_normal((n, DIM))

    out = {
        "easy": 3.0 * protos["coarse"][y // 2] + 0.15 * protos["fine"][y] + noise(),
        "hard": 0.45 * sign * protos["hard"][y] + noise(),
    }
    if three:
        out["faint"] = 0.35 * protos["faint"][y] + noise()
    out["label"] = y
    return out


def _load(name: str, split: str, profile: str, seed: int) -> TensorMultimodalDataset:
    three = name == "synthetic3"
    modalities = ("easy", "hard", "faint") if three else ("easy", "hard")
    n = SIZES.get(profile, SIZES["quick"])[_SPLIT_INDEX[split]]
    arrays = generate(n, split, three=three, data_seed=seed)
    info = DatasetInfo(
        name=name,
        modalities=modalities,
        kinds={m: "vector" for m in modalities},
        num_classes=NUM_CLASSES,
        shapes={m: (DIM,) for m in modalities},
    )
    inputs = {m: torch.from_numpy(arrays[m]).float() for m in modalities}
    ids = [f"{split}-{i:05d}" for i in range(n)]
    return TensorMultimodalDataset(info, inputs, torch.from_numpy(arrays["label"]).long(), ids)


@DATASETS.register("synthetic")
def load_synthetic(
    split: str, *, profile: str = "quick", data_root: Path | None = None, seed: int = DATA_SEED
):
    """Two modalities, ``easy`` and ``hard`` (see the module docstring); ``seed`` is the dataset seed."""
    return _load("synthetic", split, profile, seed)


@DATASETS.register("synthetic3")
def load_synthetic3(
    split: str, *, profile: str = "quick", data_root: Path | None = None, seed: int = DATA_SEED
):
    """Three modalities, ``easy``, ``hard`` and ``faint`` (see the module docstring)."""
    return _load("synthetic3", split, profile, seed)
