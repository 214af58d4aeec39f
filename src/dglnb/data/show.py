"""Tables and figures of notebook 00 (data and preprocessing); each returns an object to display."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from ..figure_style import style
from . import SPLITS, load_dataset
from .audio import SpectrogramSpec, get_spec, resample, spectrogram
from .avdigits import SPEC as AVDIGITS_SPEC
from .avdigits import cached, linear_probes
from .errors import DataError

# name, modalities, classes, expected sizes, how to prepare (see data_prep/README.md)
REAL_DATASETS = [
    (
        "cremad",
        "audio 1x257x299 + 1 frame",
        6,
        "6,698 train / 744 test (official split)",
        "python data_prep/cremad.py --raw RAW --out OUT --split-dir SPLITS",
    ),
    (
        "kinetics_sounds",
        "audio 1x257x1004 + 3 frames",
        "31 (OGM-GE lists; 33/34 elsewhere)",
        "14,799 train / 2,597 test lines",
        "python data_prep/kinetics_sounds.py --clips CLIPS --train-list my_train.txt --test-list my_test.txt --out OUT",
    ),
    (
        "vggsound",
        "audio 1x257x1004 + 3 frames",
        309,
        "~183k train / ~15k test listed; many clips gone",
        "python data_prep/vggsound.py --clips CLIPS --csv vggsound.csv --out OUT",
    ),
    (
        "mosi",
        "text 50x300, audio 50x5, visual 50x20",
        2,
        "1,284 / 229 / 686 (before dropping label 0)",
        "none: --data-root mosi_data.pkl (MulT) or aligned_50.pkl (MMSA)",
    ),
    (
        "nyuv2",
        "rgb 3x480x640 + depth 1x480x640",
        40,
        "795 train / 654 test (splits.mat)",
        "python data_prep/nyuv2.py --mat nyu_depth_v2_labeled.mat --splits splits.mat "
        "--mapping classMapping40.mat --out OUT",
    ),
]


def avdigits_table(profile: str) -> pd.DataFrame:
    """Size and per-sample input shapes of each AV-Digits split under ``profile``."""
    rows = []
    for split in SPLITS:
        data = load_dataset("avdigits", split, profile=profile)
        rows.append(
            {
                "split": split,
                "samples": len(data),
                "audio": data.info.shapes["audio"],
                "visual": data.info.shapes["visual"],
                "per class (min-max)": f"{np.bincount(data.labels).min()}-{np.bincount(data.labels).max()}",
            }
        )
    return pd.DataFrame(rows).set_index("split")


def _show_spec(ax: plt.Axes, spec: np.ndarray, sample_rate: int, hop: int, title: str) -> None:
    seconds = spec.shape[1] * hop / sample_rate
    ax.imshow(
        spec,
        origin="lower",
        aspect="auto",
        cmap="magma",
        extent=(0, seconds, 0, sample_rate / 2000),
    )
    ax.set(title=f"{title}\n{spec.shape[0]}x{spec.shape[1]}", xlabel="time (s)", ylabel="kHz")


def spectrogram_figure(index: int = 0) -> plt.Figure:
    """One AV-Digits clip: its waveform, the spectrogram AV-Digits stores, and the paper's and the
    official code's CREMA-D settings applied to the same clip (tiled to 3 s)."""
    arrays = cached()
    wave = np.asarray(arrays["waves"][index])
    label = int(arrays["labels"][index])
    specs: list[tuple[SpectrogramSpec, str]] = [
        (AVDIGITS_SPEC, "AV-Digits: 1 s, win 512, hop 159"),
        (get_spec("paper"), "paper: 16 kHz, 3 s, hop 159"),
        (get_spec("official"), "official code: 22.05 kHz, hop 353"),
    ]
    with style():
        fig, axes = plt.subplots(1, 4, figsize=(13, 2.8))
        axes[0].plot(np.arange(wave.size) / AVDIGITS_SPEC.sample_rate, wave, lw=0.4)
        axes[0].set(
            title=f"waveform (digit {label}, 16 kHz)", xlabel="time (s)", ylabel="amplitude"
        )
        for ax, (spec, title) in zip(axes[1:], specs):
            audio = resample(wave, AVDIGITS_SPEC.sample_rate, spec.sample_rate)
            _show_spec(ax, spectrogram(audio, spec), spec.sample_rate, spec.hop, title)
        fig.tight_layout()
    return fig


def visual_figure(per_class: int = 1) -> plt.Figure:
    """Handwritten digits as scikit-learn ships them (8x8) and as AV-Digits gives them (coarse)."""
    arrays = cached()
    labels = np.asarray(arrays["labels"])
    picks = [int(np.flatnonzero(labels == c)[k]) for k in range(per_class) for c in range(10)]
    with style():
        fig, axes = plt.subplots(2, len(picks), figsize=(1.1 * len(picks), 2.5))
        for col, i in enumerate(picks):
            for row, key in enumerate(("images", "coarse")):
                axes[row, col].imshow(arrays[key][i], cmap="gray_r", vmin=0, vmax=1)
                axes[row, col].set(xticks=[], yticks=[])
            axes[0, col].set_title(str(labels[i]))
        axes[0, 0].set_ylabel("8x8 original")
        axes[1, 0].set_ylabel("coarse")
        fig.tight_layout()
    return fig


def probe_table() -> pd.DataFrame:
    """Test accuracy of a linear probe per modality and on both (AV-Digits, rounded to 3 places)."""
    probes = linear_probes()
    return pd.DataFrame({"test accuracy": {k: round(v, 3) for k, v in probes.items()}})


def real_datasets() -> pd.DataFrame:
    """The five real datasets: inputs, classes, expected sizes and the prep command."""
    return pd.DataFrame(
        REAL_DATASETS, columns=["dataset", "inputs", "classes", "expected sizes", "prepare"]
    ).set_index("dataset")


def check_prepared(data_root: Path | None) -> str:
    """``dglnb data check`` for every dataset found as a sub-folder (or file) of ``data_root``."""
    from .check import CHECKS, check_dataset

    if data_root is None:
        return "no data_root given: nothing to check (pass -p data_root DIR with one sub-folder per dataset)"
    lines = []
    for name in CHECKS:
        path = Path(data_root) / name
        if path.exists():
            try:
                lines.append(check_dataset(name, path))
            except DataError as error:
                lines.append(f"{name}: {error}")
    return (
        "\n".join(lines) or f"no prepared dataset folders ({', '.join(CHECKS)}) under {data_root}"
    )
