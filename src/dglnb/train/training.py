"""One run's training state (:class:`Training`), set up fresh (:func:`prepare`: the model laid out for
the device, the optimizer, the schedule) or continued from its checkpoint ``last.pt``
(:func:`restore`); :mod:`dglnb.train.loop` runs the epochs on it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.utils.data import DataLoader

from ..config import SELECTIONS, TrainConfig
from . import distributed
from .checkpoint import LOGS, load_checkpoint, write_logs
from .determinism import set_rng_state
from .speed import channels_last_is_sound, compile_model, make_optimizer, to_channels_last


def build_optimizer(method: Any, model: nn.Module, config: TrainConfig) -> torch.optim.Optimizer:
    """``config.optimizer`` over the method's parameter groups: ``"sgd"`` with momentum and weight decay
    (the official code's), or ``"adam"`` with weight decay (the paper's ESANet setting; ``momentum`` is
    unused); fused kernels on CUDA (:func:`dglnb.train.speed.make_optimizer`), on a CPU the
    ``foreach`` implementation, whose steps are torch's default ones bit for bit. Gradient clipping,
    when configured, is done by the method inside its step."""
    return make_optimizer(
        method.param_groups(model, config.lr),
        config.device,
        config.optimizer,
        lr=config.lr,
        momentum=config.momentum,
        weight_decay=config.weight_decay,
        fast=torch.device(config.device).type == "cuda",
    )


@dataclass
class Training:
    """What the epochs of one run share: the model and method, the optimizer and schedule, and
    ``state``, everything a checkpoint keeps besides them (epoch, step, best epoch, log rows)."""

    model: nn.Module
    method: Any
    loaders: dict[str, DataLoader]
    config: TrainConfig
    out: Path
    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.MultiStepLR
    state: dict[str, Any]
    # this rank's current batch size, for the gradient average of a torchrun run
    local_batch: int = 0

    @property
    def device(self) -> torch.device:
        return torch.device(self.config.device)

    @property
    def channels_last(self) -> bool:
        """Channels-last layout where it is sound and pays: CUDA (see
        :func:`~dglnb.train.speed.channels_last_is_sound`)."""
        return channels_last_is_sound(self.device)

    @property
    def checkpoint(self) -> Path:
        return self.out / "last.pt"


def prepare(
    model: nn.Module, method: Any, loaders: dict[str, DataLoader], config: TrainConfig, out: Path
) -> Training:
    """A fresh run: the model laid out (and compiled) for the device, the optimizer, the schedule,
    and on torchrun the gradient average before every step."""
    if config.selection not in SELECTIONS:
        raise ValueError(
            f"unknown selection {config.selection!r}; valid selections: {', '.join(SELECTIONS)}"
        )
    if channels_last_is_sound(torch.device(config.device)):  # CUDA; on a CPU the plain layout
        to_channels_last(model)
    compile_model(model, config.compile)
    optimizer = build_optimizer(method, model, config)
    scheduler = torch.optim.lr_scheduler.MultiStepLR(
        optimizer, milestones=list(config.milestones), gamma=config.gamma
    )
    state: dict[str, Any] = {"epoch": -1, "step": 0, "best": None, **{name: [] for name in LOGS}}
    training = Training(model, method, loaders, config, out, optimizer, scheduler, state)
    if distributed.world_size() > 1:
        distributed.average_gradients_before_steps(optimizer, lambda: training.local_batch)
    return training


def restore(training: Training) -> None:
    """With ``config.resume``, continue from ``last.pt`` when there is one (its settings checked);
    then rewrite the logs from the state, which drops rows a killed run wrote after its last
    checkpoint, and a new run's stale files."""
    if training.config.resume and training.checkpoint.exists():
        saved = load_checkpoint(training.checkpoint, training.config.to_json(), training.device)
        training.model.load_state_dict(saved["model"])
        training.optimizer.load_state_dict(saved["optimizer"])
        training.scheduler.load_state_dict(saved["scheduler"])
        training.method.load_state_dict(saved["method"])
        set_rng_state(saved["rng"])
        training.state = {k: saved[k] for k in training.state}
    if distributed.is_writer():
        write_logs(training.state, training.out)
