"""What a valid value of each run setting is: the allowed names of the settings that take one of a
few, and one check per :class:`~dglnb.config.train_config.TrainConfig` field (:data:`CHECKS`).

A check takes a value and returns None if it is valid, else what a valid value is; the messages
say what to pass (``"an integer >= 1"``, ``"an existing file: ..."``).
"""

from __future__ import annotations

import math
import os
import re
from pathlib import Path
from typing import Any, Callable, Sequence

import torch

SELECTIONS = ("val", "test")
# honest: train on train minus a held-out val split, select the epoch on val; official: train on the
# whole train split and select on test, as the official code does (an optimistic estimate).
PROTOCOLS = ("honest", "official")
# files: each sample read from the prepared files; memory: the split's arrays loaded once (on the GPU
# when training there); mapped: memory-mapped .npy arrays written once beside the prepared data.
DATA_PATHS = ("files", "memory", "mapped")
OPTIMIZERS = ("sgd", "adam")
#: The settings that take one of a few names, and those names (the profiles are checked by name too).
CHOICES: dict[str, tuple[str, ...]] = {
    "protocol": PROTOCOLS,
    "selection": SELECTIONS,
    "data_path": DATA_PATHS,
    "optimizer": OPTIMIZERS,
}

Check = Callable[[Any], str | None]


def _integer(low: int, high: int | None = None) -> Check:
    """An int (not a bool) in [low, high)."""

    def check(v: Any) -> str | None:
        if (
            isinstance(v, bool)
            or not isinstance(v, int)
            or v < low
            or (high is not None and v >= high)
        ):
            return f"an integer >= {low}" + ("" if high is None else f" and < {high}")
        return None

    return check


def _number(low: float, *, inclusive: bool) -> Check:
    """A finite real number above ``low`` (or equal to it, when ``inclusive``)."""

    def check(v: Any) -> str | None:
        if (
            isinstance(v, bool)
            or not isinstance(v, (int, float))
            or not math.isfinite(v)
            or v < low
            or (v == low and not inclusive)
        ):
            return f"a number {'>=' if inclusive else '>'} {low}"
        return None

    return check


def _optional(check: Check) -> Check:
    """``check``, or None."""

    def optional(v: Any) -> str | None:
        problem = None if v is None else check(v)
        return None if problem is None else f"{problem}, or None"

    return optional


def _flag(v: Any) -> str | None:
    """A bool."""
    return None if isinstance(v, bool) else "True or False"


def _milestones(v: Any) -> str | None:
    """Strictly increasing epoch numbers >= 1 (possibly none)."""
    ok = (
        isinstance(v, (list, tuple))
        and all(_integer(1)(m) is None for m in v)
        and list(v) == sorted(set(v))
    )
    return None if ok else "increasing epoch numbers >= 1, e.g. (70,)"


def _device(v: Any) -> str | None:
    """A device torch has here: cpu, or a CUDA device that exists."""
    if not isinstance(v, str) or not re.fullmatch(r"cpu|cuda(:\d+)?", v):
        return "'cpu', 'cuda' or 'cuda:N'"
    if v.startswith("cuda") and not torch.cuda.is_available():
        return f"'cpu' on this machine: torch {torch.__version__} sees no CUDA GPU"
    if v.startswith("cuda:") and int(v[5:]) >= torch.cuda.device_count():
        return f"one of cuda:0..cuda:{torch.cuda.device_count() - 1}"
    return None


def _data_root(v: Any) -> str | None:
    """None (embedded data) or an existing path; whether it is prepared is the dataset loader's check."""
    if v is None or isinstance(v, (str, os.PathLike)) and Path(v).exists():
        return None
    return (
        "an existing path: prepare the dataset with its data_prep/ script (see data_prep/README.md) "
        "and pass the folder it wrote"
    )


def _pretrained(v: Any) -> str | None:
    """None (train from scratch) or an existing file; whether it fits is checked when it is loaded."""
    if v is None or isinstance(v, (str, os.PathLike)) and Path(v).is_file():
        return None
    return "an existing file: a torchvision ResNet18 state dict saved with torch.save, or None"


def _out(v: Any) -> str | None:
    """None or a path that is not an existing file (train() creates the folder)."""
    return "a folder, not a file" if v is not None and Path(v).is_file() else None


def _name(v: Any) -> str | None:
    """A registry name (a string; whether it exists is checked above the registries)."""
    return None if isinstance(v, str) and v else "a name (a non-empty string)"


def _one_of(names: Sequence[str]) -> Check:
    """One of ``names``."""
    return lambda v: None if v in names else f"one of {', '.join(names)}"


#: One check per TrainConfig field but ``profile`` (checked by name, with the valid ones listed).
CHECKS: dict[str, Check] = {
    "seed": _integer(0, 2**32),
    "data_seed": _integer(0, 2**32),
    "epochs": _integer(1),
    "alpha": _number(0, inclusive=True),
    "lr": _number(0, inclusive=False),
    "batch_size": _integer(1),
    "eval_batch_size": _optional(_integer(1)),
    "gamma": _number(0, inclusive=False),
    "momentum": _number(0, inclusive=True),
    "weight_decay": _number(0, inclusive=True),
    "grad_clip": _optional(_number(0, inclusive=False)),
    "width": _integer(1),
    "hidden": _integer(1),
    "max_steps": _optional(_integer(1)),
    "diag_every": _integer(0),
    "threads": _optional(_integer(1)),
    "num_workers": _integer(0),
    "milestones": _milestones,
    "selection": _optional(_one_of(SELECTIONS)),
    "protocol": _one_of(PROTOCOLS),
    "optimizer": _one_of(OPTIMIZERS),
    "data_path": _one_of(DATA_PATHS),
    "device": _device,
    "data_root": _data_root,
    "pretrained": _pretrained,
    "out": _out,
    "resume": _flag,
    "progress": _flag,
    "deterministic": _flag,
    "augment": _flag,
    "compile": _flag,
    "dataset": _name,
    "method": _name,
    "fusion": _optional(_name),
    "method_options": lambda v: (
        None if isinstance(v, dict) else "a dict of the method's options, e.g. {'gamma': 1.5}"
    ),
}
