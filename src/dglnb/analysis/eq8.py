"""Eq. 5 and eq. 8 counted: on random concat problems of each regime and on trained concat models."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import torch

from .. import theory
from ..data import load_dataset
from ..models.fusion import ConcatFusion
from ..train.loaders import make_loader
from ..train.probe import encode_split
from ..train.run import load_trained
from .table_cells import mean_std_table

if TYPE_CHECKING:
    import pandas


def eq8_table(
    n: int, n_classes: int, dims: tuple[int, int], seeds: tuple[int, ...]
) -> pandas.DataFrame:
    """:func:`dglnb.theory.eq8_fractions` on random problems of every regime, "mean ± std" over ``seeds``."""
    rows = [
        {
            "regime": regime,
            **theory.eq8_fractions(*theory.random_problem(n, n_classes, dims, seed, regime)),
        }
        for regime in ("random", "m2_right", "m2_wrong")
        for seed in seeds
    ]
    return mean_std_table(rows, by="regime")


def eq8_on_run(run_dir: Path, split: str = "test") -> dict[str, dict[str, float]]:
    """Where eq. 5 and eq. 8 hold on a trained concat model's ``split`` features, per modality."""
    model, config = load_trained(run_dir)
    if not isinstance(model.fusion, ConcatFusion):
        raise ValueError(f"eq. 8 is derived for concat fusion; {run_dir} used {config.fusion!r}")
    data = load_dataset(
        config.dataset,
        split,
        profile=config.profile,
        data_root=config.data_root,
        seed=config.data_seed,
    )
    feats, labels = encode_split(model, make_loader(data, 1000, shuffle=False), torch.device("cpu"))
    feats = {m: torch.as_tensor(feats[m], dtype=torch.float64) for m in model.modalities}
    head = model.fusion.head
    return theory.eq8_on_features(
        head.weight.detach().double(), head.bias.detach().double(), feats, torch.as_tensor(labels)
    )


def eq8_table_on_runs(run_dirs: list[Path], split: str = "test") -> pandas.DataFrame:
    """:func:`eq8_on_run` over several runs (e.g. seeds): one row per modality, "mean ± std"."""
    rows = [
        {"encoder": m, **fractions}
        for d in run_dirs
        for m, fractions in eq8_on_run(d, split).items()
    ]
    return mean_std_table(rows, by="encoder")
