"""What defines a run: :class:`TrainConfig`, its fields documented one by one (the documentation
``dglnb train --help`` shows), and the check of their values (:func:`check_values`).

Hyperparameters left as ``None`` are filled from the profile (:meth:`TrainConfig.with_profile_defaults`,
from :func:`dglnb.config.profiles.training_settings`). This layer knows forms and profiles, not
registries: the settings a user passes are checked, names included, by
:func:`dglnb.train.run.check_settings`, and a run's config is completed by
:func:`dglnb.train.run.resolve`, both above the registries; they call :func:`check_values` and
:meth:`TrainConfig.with_profile_defaults` for the part this layer knows.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from .checks import CHECKS
from .profiles import check_profile, training_settings

EXECUTION_FIELDS = ("out", "resume", "progress")  # how a run is carried out, not what it computes


@dataclass
class TrainConfig:
    """Everything that defines a run; ``None`` hyperparameters come from the dataset's profile."""

    dataset: str
    """The dataset, by name (e.g. avdigits, cremad, nyuv2)."""
    method: str
    """The training method, by name (e.g. vanilla, dgl, ogm_ge)."""
    fusion: str | None = None
    """How the modalities are fused: concat, sum, film, gated, mmtm, mlp_mixer, or for RGB-D segmentation
    esanet (ESANet's normalised skips) or esanet_raw_skips (default: the dataset's profile: concat, or esanet)."""
    profile: str = "quick"
    """smoke (seconds), quick (CPU, embedded data) or full (GPU, the paper's setting)."""
    seed: int = 0
    """The training seed: initialisation, shuffling, augmentation."""
    alpha: float | None = None
    """The weight of DGL's unimodal losses (eq. 15), for the methods that take one (the DGL family and
    vanilla_lr); the others ignore it and their resolved config records None (default: the profile's)."""
    epochs: int | None = None
    """Training epochs (default: the profile's)."""
    data_root: Path | None = None
    """The prepared dataset's folder (None for the embedded datasets, which need none)."""
    pretrained: Path | None = None
    """A torchvision ResNet18 state dict (torch.save) to start every ResNet18 encoder from; one-channel
    encoders get its first convolution summed over RGB. Nothing is downloaded (None: from scratch)."""
    device: str = "cpu"
    """cpu, cuda or cuda:N."""
    out: Path | None = None
    """The run folder: metrics.json, history.csv, checkpoints (None: the run cache chooses one)."""
    resume: bool = False
    """Continue from the last checkpoint in out (it must come from a run with the same settings)."""
    protocol: str = "honest"
    """honest: hold out val from train and select the epoch on val; official: train on the whole train
    split and select on test, as the official code does (an optimistic estimate)."""
    selection: str | None = None
    """The split that selects the epoch, val or test (None: the protocol's)."""
    data_seed: int = 0
    """Fixes generated data and splits; independent of the training seed."""
    progress: bool = True
    """Progress bars on a terminal, a line every few percent otherwise."""
    num_workers: int = 0
    """Data-loader worker processes."""
    deterministic: bool = False
    """CUDA: deterministic kernels only (slower); CPU runs are deterministic without it."""
    lr: float | None = None
    """Learning rate (default: the profile's)."""
    optimizer: str | None = None
    """sgd (with momentum) or adam, both with weight decay (default: the profile's)."""
    batch_size: int | None = None
    """Batch size, the global batch of a torchrun run (default: the profile's)."""
    milestones: tuple[int, ...] | None = None
    """Epochs after which the learning rate is multiplied by gamma (default: the profile's)."""
    gamma: float | None = None
    """The learning rate's factor at each milestone (default: the profile's)."""
    momentum: float | None = None
    """SGD momentum (default: the profile's)."""
    weight_decay: float | None = None
    """Weight decay (default: the profile's)."""
    grad_clip: float | None = None
    """Gradient-norm clip, per routed group (default: the profile's; None there: no clipping)."""
    width: int | None = None
    """ResNet18 base width, 64 the paper's (default: the profile's)."""
    hidden: int | None = None
    """MLP width of vector and sequence encoders (default: the profile's)."""
    max_steps: int | None = None
    """At most this many steps per epoch (default: the profile's; None there: the whole split)."""
    diag_every: int | None = None
    """Gradient diagnostics every this many steps, 0 for none (default: the profile's)."""
    eval_batch_size: int | None = None
    """Evaluation batch size; changes speed only (default: the profile's; None there: batch_size)."""
    threads: int | None = None
    """torch's CPU threads for the run (default: the profile's; None there: torch's default)."""
    augment: bool | None = None
    """Random resized crop and horizontal flip of the training frames, batched on the device
    (default: the profile's; on in the full profile for prepared audio-visual datasets)."""
    data_path: str | None = None
    """files: read samples from the prepared files; memory: load the split once (onto the GPU);
    mapped: memory-map .npy arrays written once into DATA_ROOT/arrays (default: the profile's)."""
    compile: bool = False
    """torch.compile the encoders and the fusion module (CUDA; slow to start on a CPU)."""
    method_options: dict[str, Any] = dataclasses.field(default_factory=dict)
    """The method's own hyperparameters and switches by constructor argument, e.g. gradient_noise=false;
    any left out take the method's published value for the dataset."""

    def with_profile_defaults(self) -> TrainConfig:
        """A copy with every ``None`` hyperparameter taken from the profile and every value checked
        (:func:`check_values`); a :class:`~dglnb.errors.ConfigError` (or an UnknownNameError) says which
        setting is wrong. A run's config is this and more: :func:`dglnb.train.run.resolve`."""
        check_values(profile=self.profile)
        defaults = training_settings(self.dataset, self.profile)
        values = {
            k: v if getattr(self, k) is None else getattr(self, k) for k, v in defaults.items()
        }
        check_values(**{**dataclasses.asdict(self), **values})
        values["milestones"] = tuple(values["milestones"])
        values["selection"] = self.selection or ("test" if self.protocol == "official" else "val")
        paths = {
            k: Path(getattr(self, k))
            for k in ("out", "data_root", "pretrained")
            if getattr(self, k) is not None
        }
        return dataclasses.replace(self, **values, **paths)

    def to_json(self) -> dict[str, Any]:
        """The settings that define the run (not ``EXECUTION_FIELDS``), JSON-ready (paths as strings)."""
        return {
            k: str(v) if isinstance(v, Path) else v
            for k, v in dataclasses.asdict(self).items()
            if k not in EXECUTION_FIELDS
        }


def check_values(**settings: Any) -> None:
    """Check the form of run settings by TrainConfig field name (the part of
    :func:`dglnb.train.run.check_settings` below the registries; one check per field in
    :data:`dglnb.config.checks.CHECKS`).

    An unknown profile raises an UnknownNameError listing the valid ones; any other invalid value a
    :class:`~dglnb.errors.ConfigError` saying what a valid one is. Dataset, method and fusion names
    are only checked to be names here; whether they exist, by :func:`dglnb.train.run.check_settings`.
    """
    unknown = set(settings) - {f.name for f in dataclasses.fields(TrainConfig)}
    if unknown:
        raise ConfigError(f"unknown settings {sorted(unknown)}; TrainConfig has no such fields")
    for name, value in settings.items():
        if name == "profile":
            check_profile(value)
        elif name in CHECKS and (problem := CHECKS[name](value)) is not None:
            raise ConfigError(
                f"{name} must be {problem}; got {str(value) if isinstance(value, Path) else value!r}"
            )
