"""The settings of each chapter's experiment, one frozen dataclass per experiment and one instance
per profile (``SETTINGS``); a chapter reads them with :func:`dglnb.config.profiles.settings`.

Every experiment names its ``seeds``; the training recipe of its runs is the dataset's
(:func:`dglnb.config.profiles.training_settings`), except where a field here overrides it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class GradientSuppression:
    """Chapter 01: eq. 3-8 on ``n_random`` random concat heads (``n_classes`` classes, feature
    ``dims`` per modality), then on models trained on ``dataset``."""

    n_random: int
    n_classes: int
    dims: tuple[int, int]
    seeds: tuple[int, ...]
    dataset: str


@dataclass(frozen=True)
class Trained:
    """A chapter that trains on one ``dataset`` over ``seeds`` (chapter 06's three modalities, chapter
    09's own loop)."""

    dataset: str
    seeds: tuple[int, ...]


@dataclass(frozen=True)
class Phases:
    """Chapters 02 and 08: ``phases`` says how many epochs make the first and the last phase in
    per-phase summaries."""

    dataset: str
    seeds: tuple[int, ...]
    phases: tuple[int, int]


@dataclass(frozen=True)
class AlphaSweep:
    """Chapter 03: Table 3 on ``ablation_dataset`` and the lr control on ``dataset`` over ``seeds``;
    Table 4's sweep of ``alphas`` over ``sweep_seeds``."""

    dataset: str
    ablation_dataset: str
    seeds: tuple[int, ...]
    alphas: tuple[float, ...]
    sweep_seeds: tuple[int, ...]


@dataclass(frozen=True)
class Comparison:
    """Chapter 04, Table 1: the rows shared with other chapters over ``seeds``, the seven comparison
    methods over ``method_seeds``; ``method_options`` overrides published defaults by method."""

    datasets: tuple[str, ...]
    seeds: tuple[int, ...]
    method_seeds: tuple[int, ...]
    method_options: dict[str, dict[str, Any]] = field(default_factory=dict)


@dataclass(frozen=True)
class Segmentation:
    """Chapter 07, Table 5, and the scenes of its figure."""

    dataset: str
    seeds: tuple[int, ...]
    figure_scenes: tuple[int, ...]


@dataclass(frozen=True)
class DenseFusion:
    """Chapter 05, Table 2 left: the fused rows ``methods`` (``unimodal`` gives the audio-only and
    visual-only rows); ``train`` overrides the dataset's recipe, ``method_options`` published defaults."""

    dataset: str
    seeds: tuple[int, ...]
    methods: tuple[str, ...]
    train: dict[str, Any] = field(default_factory=dict)
    method_options: dict[str, dict[str, Any]] = field(default_factory=dict)


ChapterSettings = (
    GradientSuppression | Trained | Phases | AlphaSweep | Comparison | Segmentation | DenseFusion
)

# experiment -> profile -> settings
SETTINGS: dict[str, dict[str, ChapterSettings]] = {
    # notebook 01: eq. 3-8 on random and trained concat models
    "gradient_suppression": {
        "smoke": GradientSuppression(
            n_random=200, n_classes=6, dims=(8, 8), seeds=(0,), dataset="synthetic"
        ),
        "quick": GradientSuppression(
            n_random=5000, n_classes=10, dims=(32, 32), seeds=(0, 1, 2), dataset="synthetic"
        ),
        "full": GradientSuppression(
            n_random=20000, n_classes=10, dims=(64, 64), seeds=(0, 1, 2), dataset="cremad"
        ),
    },
    # notebooks 02, 03, 08: the dataset, the seeds, and which of this run's modalities stands in for
    # which of the paper's CREMA-D columns (the modality that dominates the fused model ~ audio).
    "gradient_detaching": {
        "smoke": Phases(dataset="avdigits", seeds=(0,), phases=(1, 1)),
        "quick": Phases(dataset="avdigits", seeds=(0, 1, 2), phases=(3, 5)),
        "full": Phases(dataset="cremad", seeds=(0, 1, 2), phases=(5, 10)),
    },
    # Table 4's alpha sweep runs ``sweep_seeds`` (one seed in the quick profile keeps the notebook within
    # minutes); Table 3 and the lr control use ``seeds``. All at the dataset's profile epochs. Quick:
    # Table 3 on a third of AV-Digits' training split, where the ablation has headroom (on the whole
    # split DGL, +MT and +UT all end near the ceiling).
    "gradient_reorganizing": {
        "smoke": AlphaSweep(
            dataset="avdigits",
            ablation_dataset="avdigits_small",
            seeds=(0,),
            alphas=(1.0, 4.0),
            sweep_seeds=(0,),
        ),
        "quick": AlphaSweep(
            dataset="avdigits",
            ablation_dataset="avdigits_small",
            seeds=(0, 1, 2),
            alphas=(1.0, 4.0),
            sweep_seeds=(0,),
        ),
        "full": AlphaSweep(
            dataset="cremad",
            ablation_dataset="cremad",
            seeds=(0, 1, 2),
            alphas=(1.0, 2.0, 3.0, 4.0, 5.0),
            sweep_seeds=(0, 1, 2),
        ),
    },
    # notebook 04: Table 1. ``seeds`` for the rows shared with chapters 02, 03 and 08 (vanilla, dgl,
    # unimodal; the same cached runs), ``method_seeds`` for the seven comparison methods. The quick
    # profile takes two seeds for every row, the fewest that give each row a seed spread of its own:
    # two of those chapters' three for the shared rows, and two for the methods, which cost many
    # vanilla runs together (G-Blending alone over four), more than a third seed would fit.
    # ``method_options`` overrides published defaults where the run's length requires it: D&R's first
    # re-initialisation (after epoch 20 of 100) would never come in the 16-epoch quick run, so it
    # re-initialises after epochs 3, 6 and 9, the same fractions of the run.
    "comparison": {
        "smoke": Comparison(datasets=("avdigits",), seeds=(0,), method_seeds=(0,)),
        "quick": Comparison(
            datasets=("avdigits",),
            seeds=(0, 1),
            method_seeds=(0, 1),
            method_options={"dnr": dict(reinit_epoch=3)},
        ),
        "full": Comparison(
            datasets=("cremad", "kinetics_sounds", "vggsound"),
            seeds=(0, 1, 2),
            method_seeds=(0, 1, 2),
        ),
    },
    # notebook 07: Table 5's rows (vanilla = the fusion baseline, dgl, unimodal) and the scenes of its figure.
    "segmentation": {
        "smoke": Segmentation(dataset="rgbd_scenes", seeds=(0,), figure_scenes=(0, 1)),
        "quick": Segmentation(dataset="rgbd_scenes", seeds=(0, 1, 2), figure_scenes=(0, 1, 2, 3)),
        "full": Segmentation(dataset="nyuv2", seeds=(0, 1, 2), figure_scenes=(0, 1, 2, 3)),
    },
    # notebook 06: Table 2 right, MLP-Mixer fusion of three sequence modalities (vanilla, dgl, unimodal,
    # and DGL's clipping and fusion_dropout variants). Quick: five seeds, which the spread of DGL's
    # variants on this benchmark needs for a verdict (one run takes about 10 s).
    "three_modalities": {
        "smoke": Trained(dataset="synthetic_seq3", seeds=(0,)),
        "quick": Trained(dataset="synthetic_seq3", seeds=(0, 1, 2, 3, 4)),
        "full": Trained(dataset="mosi", seeds=(0, 1, 2)),
    },
    # notebook 05: Table 2 left, MMTM dense fusion of audio and vision.
    # Quick: vanilla and DGL only, for 10 epochs (lr x0.1 after 8) instead of AV-Digits' 16, because an
    # MMTM run costs about 1.3x (vanilla) to 1.7x (DGL) a late-fusion run and the chapter's nine runs
    # must fit its few minutes; at 10 epochs, seed 0: vanilla 89.6 %, DGL 94.3 % (multimodal test
    # accuracy).
    "dense_fusion": {
        "smoke": DenseFusion(dataset="avdigits", seeds=(0,), methods=("vanilla", "dgl")),
        "quick": DenseFusion(
            dataset="avdigits",
            seeds=(0, 1, 2),
            methods=("vanilla", "dgl"),
            train=dict(epochs=10, milestones=(8,)),
        ),
        "full": DenseFusion(
            dataset="cremad",
            seeds=(0, 1, 2),
            methods=("vanilla", "gblending", "ogm_ge", "pmr", "agm", "mmpareto", "dnr", "dgl"),
            method_options={"mmpareto": dict(unimodal_logits="zeroed")},
        ),
    },
    # notebook 09: a model written in the notebook (no dglnb class) trained by the reader's own loop
    # with dglnb.dgl_loss; the loop takes the dataset's optimiser settings (training_settings) and
    # its run sizes (``sized``), and no gradient clipping.
    "own_loop": {
        "smoke": Trained(dataset="avdigits", seeds=(0,)),
        "quick": Trained(dataset="avdigits", seeds=(0, 1, 2)),
        "full": Trained(dataset="avdigits", seeds=(0, 1, 2, 3, 4)),
    },
    # ``phases``: how many epochs make the "first" and the "last" phase in per-phase summaries.
    "training_dynamics": {
        "smoke": Phases(dataset="avdigits", seeds=(0,), phases=(1, 1)),
        "quick": Phases(dataset="avdigits", seeds=(0, 1, 2), phases=(3, 5)),
        "full": Phases(dataset="cremad", seeds=(0, 1, 2), phases=(5, 10)),
    },
}
