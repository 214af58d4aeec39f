"""What defines a run: :class:`TrainConfig`, and the checks every setting passes before anything runs.

Hyperparameters left as ``None`` are filled from the profile (:func:`dglnb.config.profiles.training_settings`).
This layer knows forms and profiles, not registries: whether a dataset, method or fusion name exists
is checked by :func:`dglnb.train.run.resolve`, which sits above the registries.
"""

from __future__ import annotations

import dataclasses
import math
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

import torch

from ..errors import ConfigError
from .profiles import check_profile, training_settings

EXECUTION_FIELDS = ("out", "resume", "progress")  # how a run is carried out, not what it computes
SELECTIONS = ("val", "test")
# honest: train on train minus a held-out val split, select the epoch on val; official: train on the
# whole train split and select on test, as the official code does (an optimistic estimate).
PROTOCOLS = ("honest", "official")
# files: each sample read from the prepared files; memory: the split's arrays loaded once (on the GPU
# when training there); mapped: memory-mapped .npy arrays written once beside the prepared data.
DATA_PATHS = ("files", "memory", "mapped")
OPTIMIZERS = ("sgd", "adam")


@dataclass
class TrainConfig:
    """Everything that defines a run; ``None`` hyperparameters come from the dataset's profile."""

    dataset: str
    method: str
    fusion: str | None = None  # None: the dataset's (concat; esanet for RGB-D segmentation)
    profile: str = "quick"
    seed: int = 0
    alpha: float | None = None
    epochs: int | None = None
    data_root: Path | None = None
    pretrained: Path | None = None  # a torchvision ResNet18 state dict for the encoders (None: from scratch)
    device: str = "cpu"
    out: Path | None = None
    resume: bool = False
    protocol: str = "honest"  # see PROTOCOLS
    selection: str | None = None  # the split that selects the epoch: "val" or "test" (None: the protocol's)
    data_seed: int = 0  # fixes generated data and splits; independent of the training seed
    progress: bool = True
    num_workers: int = 0
    deterministic: bool = False  # CUDA: deterministic kernels only (slower); CPU runs are deterministic anyway
    # training hyperparameters (None: from the profile)
    lr: float | None = None
    optimizer: str | None = None  # "sgd" or "adam"
    batch_size: int | None = None
    milestones: tuple[int, ...] | None = None
    gamma: float | None = None
    momentum: float | None = None
    weight_decay: float | None = None
    grad_clip: float | None = None
    width: int | None = None
    hidden: int | None = None
    max_steps: int | None = None
    diag_every: int | None = None
    eval_batch_size: int | None = None
    threads: int | None = None
    augment: bool | None = None  # random resized crop + flip of training frames (see dglnb.data.augment)
    data_path: str | None = None  # see DATA_PATHS
    compile: bool = False  # torch.compile the encoders and the fusion (CUDA; slow to start on a CPU)
    # the method's own hyperparameters and switches, by constructor argument (e.g. {"gradient_noise": False});
    # any left out take the method's published value for ``dataset``
    method_options: dict[str, Any] = dataclasses.field(default_factory=dict)

    def resolved(self) -> TrainConfig:
        """A checked copy with every ``None`` hyperparameter taken from the profile; a
        :class:`~dglnb.errors.ConfigError` (or an UnknownNameError) says which setting is wrong.
        Names are checked against the registries by :func:`dglnb.train.run.resolve`."""
        check_settings(profile=self.profile)
        defaults = training_settings(self.dataset, self.profile)
        values = {k: v if getattr(self, k) is None else getattr(self, k) for k, v in defaults.items()}
        check_settings(**{**dataclasses.asdict(self), **values})
        values["milestones"] = tuple(values["milestones"])
        values["selection"] = self.selection or ("test" if self.protocol == "official" else "val")
        paths = {k: Path(getattr(self, k)) for k in ("out", "data_root", "pretrained") if getattr(self, k) is not None}
        return dataclasses.replace(self, **values, **paths)

    def to_json(self) -> dict[str, Any]:
        """The settings that define the run (not ``EXECUTION_FIELDS``), JSON-ready (paths as strings)."""
        return {k: str(v) if isinstance(v, Path) else v for k, v in dataclasses.asdict(self).items()
                if k not in EXECUTION_FIELDS}


# ----------------------------------------------------------------------------- checking settings
# A check takes a value and returns None if it is valid, else what a valid value is.
Check = Callable[[Any], str | None]


def _integer(low: int, high: int | None = None) -> Check:
    """An int (not a bool) in [low, high)."""
    def check(v: Any) -> str | None:
        if isinstance(v, bool) or not isinstance(v, int) or v < low or (high is not None and v >= high):
            return f"an integer >= {low}" + ("" if high is None else f" and < {high}")
        return None
    return check


def _number(low: float, *, inclusive: bool) -> Check:
    """A finite real number above ``low`` (or equal to it, when ``inclusive``)."""
    def check(v: Any) -> str | None:
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or v < low \
                or (v == low and not inclusive):
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
    ok = isinstance(v, (list, tuple)) and all(_integer(1)(m) is None for m in v) and list(v) == sorted(set(v))
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
    return ("an existing path: prepare the dataset with its data_prep/ script (see data_prep/README.md) "
            "and pass the folder it wrote")


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


_CHECKS: dict[str, Check] = {
    "seed": _integer(0, 2**32), "data_seed": _integer(0, 2**32), "epochs": _integer(1),
    "alpha": _number(0, inclusive=True), "lr": _number(0, inclusive=False), "batch_size": _integer(1),
    "eval_batch_size": _optional(_integer(1)), "gamma": _number(0, inclusive=False),
    "momentum": _number(0, inclusive=True), "weight_decay": _number(0, inclusive=True),
    "grad_clip": _optional(_number(0, inclusive=False)), "width": _integer(1), "hidden": _integer(1),
    "max_steps": _optional(_integer(1)), "diag_every": _integer(0), "threads": _optional(_integer(1)),
    "num_workers": _integer(0), "milestones": _milestones, "selection": _optional(_one_of(SELECTIONS)),
    "protocol": _one_of(PROTOCOLS),
    "optimizer": _one_of(OPTIMIZERS),
    "device": _device, "data_root": _data_root, "pretrained": _pretrained, "out": _out,
    "resume": _flag, "progress": _flag, "deterministic": _flag, "augment": _flag, "compile": _flag, "data_path": _one_of(DATA_PATHS),
    "dataset": _name, "method": _name, "fusion": _optional(_name),
    "method_options": lambda v: None if isinstance(v, dict) else "a dict of the method's options, e.g. {'gamma': 1.5}",
}


def check_settings(**settings: Any) -> None:
    """Check run settings by TrainConfig field name, e.g. a notebook's papermill parameters:
    ``check_settings(profile=profile, seed=seed, data_root=data_root, device=device)``.

    An unknown profile raises an UnknownNameError listing the valid ones; any other invalid value a
    :class:`~dglnb.errors.ConfigError` saying what a valid one is. Dataset, method and fusion names are
    checked against their registries by :func:`dglnb.train.run.check_settings`.
    """
    unknown = set(settings) - {f.name for f in dataclasses.fields(TrainConfig)}
    if unknown:
        raise ConfigError(f"unknown settings {sorted(unknown)}; TrainConfig has no such fields")
    for name, value in settings.items():
        if name == "profile":
            check_profile(value)
        elif name in _CHECKS and (problem := _CHECKS[name](value)) is not None:
            raise ConfigError(f"{name} must be {problem}; got {str(value) if isinstance(value, Path) else value!r}")
