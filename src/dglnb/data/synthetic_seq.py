"""``synthetic_seq3``: the three-modality synthetic benchmark laid out as sequences, for sequence fusions.

Every sample of ``synthetic3`` (modalities ``easy``, ``hard``, ``faint``; see :mod:`.synthetic`)
is a 64-dimensional vector per modality. Here each vector is cut into ``STEPS = 8`` consecutive
steps of 8 features, giving (8, 8) sequences of equal length, as MOSI's word-aligned features are
(50 steps). The imbalance is the one of ``synthetic3``: ``easy`` dominates (it gives the class pair
at once), ``hard`` is complementary and slow (its sign flip, shared by all steps, needs a nonlinear
reading across steps), ``faint`` is linear but noisy. The tensors are exactly ``synthetic3``'s,
reshaped, so they are as deterministic as ``synthetic3`` is.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from . import DATASETS
from .synthetic import DATA_SEED, DIM, TensorMultimodalDataset, load_synthetic3

STEPS = 8


@DATASETS.register("synthetic_seq3")
def load_synthetic_seq3(split: str, *, profile: str = "quick", data_root: Path | None = None, seed: int = DATA_SEED):
    """``synthetic3`` with each modality as a (STEPS, DIM / STEPS) sequence (see the module docstring)."""
    flat = load_synthetic3(split, profile=profile, seed=seed)
    shape = (STEPS, DIM // STEPS)
    info = replace(flat.info, name="synthetic_seq3", kinds={m: "sequence" for m in flat.info.modalities},
                   shapes={m: shape for m in flat.info.modalities})
    inputs = {m: x.reshape(len(x), *shape) for m, x in flat.inputs.items()}
    return TensorMultimodalDataset(info, inputs, flat.labels, flat.ids)
