"""CMU-MOSI from the aligned feature pickles people have (no prep needed beyond the pickle).

Two formats are read, told apart by their keys (both hold ``train``/``valid``/``test`` dicts of
arrays over 50 word-aligned steps):

* MulT's ``mosi_data.pkl``: ``text`` (N, 50, 300) GloVe, ``audio`` (N, 50, 5) COVAREP,
  ``vision`` (N, 50, 20) Facet, ``labels`` (N, 1, 1) sentiment in [-3, 3], optional ``id``.
* MMSA's ``aligned_50.pkl``: ``text`` (N, 50, d; d = 768 BERT features in the public file),
  ``audio``, ``vision``, ``regression_labels`` (N,), ``id``; other keys are ignored.
  Assumption (not checked against a real file here): these keys and shapes as MMSA documents.

The pickles come from third-party downloads: they are read by a restricted unpickler
(:mod:`dglnb.data.safe_pickle`: NumPy arrays and plain containers), which refuses any other class.
Non-finite feature values (MulT's audio has -inf) become 0. The binary task is positive vs
negative sentiment. Dataset ``mosi`` (``zero="exclude"``, the default) drops the neutral
samples labelled exactly 0, as the common "non-zero" binary accuracy does; dataset
``mosi_with_zero`` (``zero="positive"``) keeps them on the positive side (label >= 0), as the
other common protocol does. See :func:`binary_labels`.
"""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from . import DATASETS, DatasetInfo
from .errors import DataError
from .safe_pickle import RefusedClass, load_plain

FILES = ("mosi_data.pkl", "aligned_50.pkl")  #: the pickle names looked for in a folder
SPLIT_KEYS = {"train": "train", "val": "valid", "test": "test"}
MODALITIES = ("audio", "visual", "text")
FEATURE_KEYS = {"audio": "audio", "visual": "vision", "text": "text"}


def find_pickle(data_root: Path | None) -> Path:
    """The pickle at ``data_root`` (a file, or a folder holding one of :data:`FILES`)."""
    if data_root is None:
        raise DataError(f"mosi needs --data-root: {' or '.join(FILES)}, or the folder holding it")
    root = Path(data_root)
    candidates = [root] if root.is_file() else [root / name for name in FILES]
    for path in candidates:
        if path.is_file():
            return path
    raise DataError(
        f"no {' or '.join(FILES)} at {root}. What to do: download MulT's or MMSA's aligned MOSI "
        "features and pass the file or its folder as --data-root"
    )


def read_split(path: Path, split: str) -> dict[str, Any]:
    """Features (N, 50, d) per modality, continuous labels (N,) and ids of one split, validated."""
    try:
        with open(path, "rb") as handle:
            data = load_plain(handle)
    except RefusedClass as exc:
        raise DataError(
            f"{path} was refused: it names {exc.qualified_name}, and a MOSI feature "
            "pickle holds NumPy arrays and plain containers only (loading it could run "
            "code). What to do: re-download MulT's or MMSA's aligned MOSI features from "
            "their sources"
        ) from exc
    except (OSError, pickle.UnpicklingError, EOFError, AttributeError, ImportError) as exc:
        raise DataError(
            f"{path} is not a readable pickle ({exc}). What to do: re-download it"
        ) from exc
    key = SPLIT_KEYS[split]
    if not isinstance(data, dict) or key not in data:
        raise DataError(
            f"{path} has no {key!r} split (keys: {list(data)[:10] if isinstance(data, dict) else type(data)}). "
            "What to do: pass MulT's mosi_data.pkl or MMSA's aligned_50.pkl"
        )
    part = data[key]
    label_key = "regression_labels" if "regression_labels" in part else "labels"
    missing = [k for k in (*FEATURE_KEYS.values(), label_key) if k not in part]
    if missing:
        raise DataError(
            f"{path}[{key!r}] lacks {missing}. What to do: pass MulT's or MMSA's aligned MOSI pickle"
        )
    features = {
        m: np.nan_to_num(np.asarray(part[k], dtype=np.float32), nan=0.0, posinf=0.0, neginf=0.0)
        for m, k in FEATURE_KEYS.items()
    }
    labels = np.asarray(part[label_key], dtype=np.float32).reshape(-1)
    sizes = {m: len(f) for m, f in features.items()} | {label_key: len(labels)}
    if len(set(sizes.values())) != 1:
        raise DataError(
            f"{path}[{key!r}]: modalities disagree on the number of samples {sizes}. What to do: re-download it"
        )
    ids = (
        ["$".join(map(str, np.ravel(i))) if not isinstance(i, str) else i for i in part["id"]]
        if "id" in part
        else [f"{split}-{i:05d}" for i in range(len(labels))]
    )
    return {
        "features": features,
        "labels": labels,
        "ids": ids,
        "format": "mmsa" if label_key == "regression_labels" else "mult",
    }


def binary_labels(scores: np.ndarray, zero: str) -> tuple[np.ndarray, np.ndarray]:
    """(kept indices, 0/1 labels): 1 for a positive score, 0 for a negative one; a score of exactly 0
    is dropped (``zero="exclude"``) or counted positive (``zero="positive"``, i.e. label >= 0)."""
    if zero not in ("exclude", "positive"):
        raise ValueError(f"zero must be 'exclude' or 'positive', got {zero!r}")
    keep = np.flatnonzero(scores != 0) if zero == "exclude" else np.arange(len(scores))
    return keep, (scores[keep] >= 0).astype(np.int64)


class MOSI(Dataset):
    """Binary sentiment on MOSI: ``audio``/``visual``/``text`` sequences (T, d) + label + id."""

    def __init__(self, data_root: Path | None, split: str, zero: str = "exclude") -> None:
        self.path = find_pickle(data_root)
        part = read_split(self.path, split)
        keep, self.labels = binary_labels(part["labels"], zero)
        self.features = {m: torch.from_numpy(f[keep]) for m, f in part["features"].items()}
        self.ids = [part["ids"][i] for i in keep]
        self.scores = part["labels"][keep]
        self.format = part["format"]
        self.info = DatasetInfo(
            name="mosi",
            modalities=MODALITIES,
            kinds={m: "sequence" for m in MODALITIES},
            num_classes=2,
            shapes={m: tuple(f.shape[1:]) for m, f in self.features.items()},
        )

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i: int) -> dict[str, Any]:
        return {
            **{m: f[i] for m, f in self.features.items()},
            "label": int(self.labels[i]),
            "id": self.ids[i],
        }


@DATASETS.register("mosi")
def load_mosi(
    split: str, *, profile: str = "quick", data_root: Path | None = None, seed: int = 0
) -> MOSI:
    """MOSI, positive vs negative, neutral (0) samples excluded."""
    return MOSI(data_root, split, zero="exclude")


@DATASETS.register("mosi_with_zero")
def load_mosi_with_zero(
    split: str, *, profile: str = "quick", data_root: Path | None = None, seed: int = 0
) -> MOSI:
    """MOSI, label >= 0 vs label < 0: neutral (0) samples count as positive."""
    return MOSI(data_root, split, zero="positive")
