"""``synthetic_seq3``: a three-modality synthetic benchmark of sequences, for sequence fusions (the
MLP-Mixer of chapter 06).

Ten classes; each sample is, per modality, a sequence of ``STEPS = 4`` observations of a 64-d vector
``v_m``, each with fresh Gaussian noise of standard deviation ``NOISE`` per dimension (sequences of
equal length, as MOSI's word-aligned features are). ``v_m`` holds the class evidence, with its own
noise of the same level, from the class prototypes of :mod:`.synthetic` (random unit vectors):

* ``easy`` = 3.0 u_coarse[y // 2] + 0.15 u_fine[y]: the class *pair* at once, strongly, and a faint
  cue for the class within it. Learned in a few steps, it dominates a jointly trained model; alone
  about 65 % (measured with the quick recipe's unimodal model).
* ``mid`` = 0.35 u_mid[y]: the full label, linearly, at a low signal-to-noise ratio; alone about 72 %.
* ``weak`` = 0.25 u_weak[y]: the full label, linearly, lower still; alone about 50 %.

Every modality alone is well above chance (10 %) and well below all three together (about 92 %
for the jointly trained mixer), and ``easy`` is learned first: ``tests/test_synthetic.py``
measures these properties. Every tensor is a deterministic function of the dataset seed (the
prototypes, each split's draws and the step noise from independent children of one seed sequence).

Version 2 of this benchmark. Version 1 took ``synthetic3``'s ``hard`` modality (the label behind a
random sign flip, learnable only by a nonlinear encoder): it stayed at chance under every method
and even trained alone in the quick budget, so no comparison could be made on it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from . import DATASETS, DatasetInfo
from .synthetic import (
    _SPLIT_INDEX,
    DATA_SEED,
    DIM,
    NOISE,
    NUM_CLASSES,
    SIZES,
    TensorMultimodalDataset,
    _unit,
)

STEPS = 4
MODALITIES = ("easy", "mid", "weak")
AMPLITUDES = {"coarse": 3.0, "fine": 0.15, "mid": 0.35, "weak": 0.25}


def generate(
    n: int, split: str, data_seed: int = DATA_SEED
) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """``n`` samples of ``split``: per modality an (n, STEPS, 64) array, and the labels."""
    proto_seq, *split_seqs = np.random.SeedSequence([data_seed, 2]).spawn(1 + len(_SPLIT_INDEX))
    proto_rng = np.random.default_rng(proto_seq)
    protos = {
        "coarse": _unit(proto_rng, NUM_CLASSES // 2),
        **{name: _unit(proto_rng, NUM_CLASSES) for name in ("fine", "mid", "weak")},
    }
    rng = np.random.default_rng(split_seqs[_SPLIT_INDEX[split]])
    y = rng.permutation(np.arange(n) % NUM_CLASSES)
    a = AMPLITUDES
    evidence = {
        "easy": a["coarse"] * protos["coarse"][y // 2] + a["fine"] * protos["fine"][y],
        "mid": a["mid"] * protos["mid"][y],
        "weak": a["weak"] * protos["weak"][y],
    }
    sequences = {}
    for m in MODALITIES:
        vector = evidence[m] + NOISE * rng.standard_normal((n, DIM))
        sequences[m] = vector[:, None, :] + NOISE * rng.standard_normal((n, STEPS, DIM))
    return sequences, y


@DATASETS.register("synthetic_seq3")
def load_synthetic_seq3(
    split: str, *, profile: str = "quick", data_root: Path | None = None, seed: int = DATA_SEED
) -> TensorMultimodalDataset:
    """The three sequence modalities ``easy``, ``mid``, ``weak`` (see the module docstring);
    ``seed`` is the dataset seed; split sizes as :mod:`.synthetic`'s."""
    n = SIZES.get(profile, SIZES["quick"])[_SPLIT_INDEX[split]]
    sequences, y = generate(n, split, data_seed=seed)
    info = DatasetInfo(
        name="synthetic_seq3",
        modalities=MODALITIES,
        kinds=dict.fromkeys(MODALITIES, "sequence"),
        num_classes=NUM_CLASSES,
        shapes=dict.fromkeys(MODALITIES, (STEPS, DIM)),
    )
    inputs = {m: torch.from_numpy(x).float() for m, x in sequences.items()}
    return TensorMultimodalDataset(
        info, inputs, torch.from_numpy(y).long(), [f"{split}-{i:05d}" for i in range(n)]
    )
