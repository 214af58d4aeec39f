"""The paper's reported numbers (Wei, Luo & Luo, ICCV 2025, Tables 1-5), as data.

Accuracies are percentages as printed; ``None`` where the paper prints a dash.
Notebooks put these beside this run's numbers; nothing here is ever computed.
"""

from __future__ import annotations

AUDIO_VISUAL_HEADS = (
    "audio",
    "visual",
    "multimodal",
)  #: the columns of Table 1's and Table 2 left's rows
MOSI_HEADS = ("audio", "visual", "text", "multimodal")  #: the columns of Table 2 right's rows

# Table 1: concat fusion, ResNet18 encoders. method -> dataset -> (audio, visual, multimodal)
TABLE1: dict[str, dict[str, tuple[float | None, float | None, float | None]]] = {
    "audio_only": {
        "cremad": (62.18, None, None),
        "kinetics_sounds": (48.70, None, None),
        "vggsound": (45.13, None, None),
    },
    "visual_only": {
        "cremad": (None, 68.23, None),
        "kinetics_sounds": (None, 54.60, None),
        "vggsound": (None, 30.68, None),
    },
    "concat": {
        "cremad": (59.62, 36.71, 65.10),
        "kinetics_sounds": (43.35, 48.72, 64.45),
        "vggsound": (43.18, 20.55, 47.90),
    },
    "gblending": {
        "cremad": (58.78, 58.62, 69.21),
        "kinetics_sounds": (46.35, 51.12, 69.60),
        "vggsound": (44.34, 26.56, 49.33),
    },
    "ogm_ge": {
        "cremad": (57.76, 40.09, 68.82),
        "kinetics_sounds": (44.23, 45.81, 66.89),
        "vggsound": (41.85, 27.41, 48.71),
    },
    "pmr": {
        "cremad": (55.11, 38.34, 67.44),
        "kinetics_sounds": (43.61, 46.67, 65.70),
        "vggsound": (42.33, 25.12, 48.17),
    },
    "agm": {
        "cremad": (56.37, 43.54, 69.61),
        "kinetics_sounds": (46.12, 47.65, 68.88),
        "vggsound": (41.87, 27.34, 49.10),
    },
    "mla": {
        "cremad": (60.46, 64.23, 73.12),
        "kinetics_sounds": (50.03, 54.67, 71.12),
        "vggsound": (45.87, 31.60, 51.19),
    },
    "mmpareto": {
        "cremad": (59.43, 61.09, 70.12),
        "kinetics_sounds": (48.40, 52.42, 69.83),
        "vggsound": (42.44, 30.07, 49.12),
    },
    "dnr": {
        "cremad": (61.11, 64.57, 74.32),
        "kinetics_sounds": (49.78, 54.88, 69.10),
        "vggsound": (45.18, 31.23, 50.84),
    },
    "dgl": {
        "cremad": (63.12, 69.11, 77.48),
        "kinetics_sounds": (52.89, 60.11, 74.78),
        "vggsound": (47.13, 33.45, 52.53),
    },
}

# Table 1's row labels as printed, in its order.
TABLE1_ROWS: dict[str, str] = {
    "audio_only": "Audio-only",
    "visual_only": "Visual-only",
    "concat": "Concat",
    "gblending": "G-Blending",
    "ogm_ge": "OGM_GE",
    "pmr": "PMR",
    "agm": "AGM",
    "mla": "MLA",
    "mmpareto": "MMPareto",
    "dnr": "D&R",
    "dgl": "DGL",
}

# Table 2 left: MMTM dense fusion on CREMA-D. method -> (audio, visual, multimodal)
TABLE2_MMTM_CREMAD: dict[str, tuple[float | None, float | None, float | None]] = {
    "audio_only": (59.18, None, None),
    "visual_only": (None, 68.34, None),
    "vanilla": (56.11, 23.43, 60.12),
    "gblending": (57.72, 62.11, 69.99),
    "ogm_ge": (55.61, 40.61, 65.31),
    "pmr": (54.71, 39.21, 64.89),
    "agm": (55.29, 44.18, 66.65),
    "mmpareto": (56.79, 63.21, 69.88),
    "dnr": (58.67, 66.32, 72.28),
    "dgl": (60.30, 69.50, 75.00),
}

# Table 2 right: MLP-Mixer fusion on MOSI. method -> (audio, visual, text, multimodal)
TABLE2_MOSI: dict[str, tuple[float | None, float | None, float | None, float | None]] = {
    "audio_only": (44.25, None, None, None),
    "visual_only": (None, 54.28, None, None),
    "text_only": (None, None, 77.12, None),
    "vanilla": (40.65, 51.33, 76.33, 76.83),
    "gblending": (42.39, 53.03, 76.97, 78.04),
    "ogm_ge": (42.09, 52.68, 75.87, 77.97),
    "pmr": (41.89, 52.43, 75.67, 77.54),
    "agm": (42.24, 52.97, 76.04, 77.95),
    "mmpareto": (42.92, 53.08, 76.87, 78.15),
    "dnr": (43.65, 53.81, 77.01, 78.81),
    "dgl": (44.78, 55.11, 77.39, 79.78),
}

# Table 3: gradient-truncation ablation, CREMA-D multimodal accuracy.
TABLE3: dict[str, float] = {"baseline": 65.10, "dgl_mt": 73.31, "dgl_ut": 74.22, "dgl": 77.48}

# Table 4: alpha sweep on CREMA-D (concat), multimodal accuracy.
TABLE4: dict[str, dict[float, float]] = {
    "gblending": {1: 67.89, 2: 68.12, 3: 69.20, 4: 69.21, 5: 68.67},
    "dgl": {1: 73.35, 2: 75.46, 3: 76.13, 4: 77.48, 5: 77.08},
}

# Table 5: NYUv2 RGB-D segmentation, mIoU.
TABLE5: dict[str, dict[str, float]] = {
    "from_scratch": {"esanet": 38.59, "dgl": 41.67},
    "imagenet_pretrained": {"esanet": 48.48, "dgl": 50.10},
}
