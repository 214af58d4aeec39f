"""``synthetic_seq3``: the three-modality synthetic benchmark as sequences, for sequence fusions.

Every sample of ``synthetic3`` (modalities ``easy``, ``hard``, ``faint``; see :mod:`.synthetic`)
is a 64-dimensional vector per modality. Here each modality is a sequence of ``STEPS = 4``
observations of that vector, each with fresh Gaussian noise of standard deviation ``NOISE`` per
dimension: sequences of equal length, as MOSI's word-aligned features are (50 steps). The class
evidence is the one of ``synthetic3``, so is the imbalance: ``easy`` dominates (it gives the class
pair at once), ``hard`` is complementary and slow (its sign flip needs a nonlinear encoder),
``faint`` is linear but noisy. The step noise comes from its own generator, seeded by the dataset
seed and the split, so every tensor is deterministic.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from . import DATASETS
from .synthetic import _SPLIT_INDEX, DATA_SEED, DIM, NOISE, TensorMultimodalDataset, load_synthetic3

STEPS = 4


@DATASETS.register("synthetic_seq3")
def load_synthetic_seq3(split: str, *, profile: str = "quick", data_root: Path | None = None, seed: int = DATA_SEED):
    """``synthetic3`` with each modality as (STEPS, 64) noisy observations (see the module docstring)."""
    flat = load_synthetic3(split, profile=profile, seed=seed)
    rng = np.random.default_rng([seed, _SPLIT_INDEX[split], STEPS])
    inputs = {}
    for m, x in flat.inputs.items():
        noise = NOISE * rng.standard_normal((len(x), STEPS, DIM))
        inputs[m] = x[:, None, :] + torch.from_numpy(noise).float()
    info = replace(flat.info, name="synthetic_seq3", kinds={m: "sequence" for m in flat.info.modalities},
                   shapes={m: (STEPS, DIM) for m in flat.info.modalities})
    return TensorMultimodalDataset(info, inputs, flat.labels, flat.ids)
