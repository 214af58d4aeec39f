"""Settings that make a training step faster without changing what it computes.

* :func:`channels_last_is_sound`: where the channels-last layout may be used at all (CUDA only).
* :func:`to_channels_last` / :func:`batch_channels_last`: NHWC memory layout for the conv weights and
  the 4-D (image, spectrogram) inputs, which cuDNN convolves faster; 5-D frames and vectors
  are left as they are (the frames encoder folds time into the batch and its convolutions follow the
  weights' layout). Callers convert only where :func:`channels_last_is_sound` says so.
* :func:`make_optimizer`: SGD or Adam with ``fused=True`` (one kernel for every parameter) on a device
  whose torch has fused kernels, else the ``foreach`` (multi-tensor) implementation; without ``fast``
  the ``foreach`` one everywhere, which on a CPU is the default loop's arithmetic bit for bit.
* :func:`compile_model`: ``torch.compile`` of every encoder and of the fusion module, in place (the
  methods call ``encode`` / ``fuse`` rather than ``forward``). Off unless asked for: compiling
  takes minutes on a CPU. It turns off AOTAutograd's donated buffers for the whole process: DGL
  backpropagates with ``retain_graph=True``, which a compiled backward with donated buffers refuses.

bf16 autocast on CUDA is the training loop's (``autocast(device)``); these settings combine with it.
"""

from __future__ import annotations

from typing import Any, Iterable, Mapping

import torch
import torch._functorch.config as functorch_config
from torch import nn

from ..config import OPTIMIZERS
from ..errors import ConfigError


def channels_last_is_sound(device: torch.device | str) -> bool:
    """Whether convolutions in the channels-last layout are sound on ``device``: on CUDA (cuDNN) yes;
    on a CPU no, so every CPU path trains in the plain (contiguous NCHW) layout.

    The CPU's convolutions run through oneDNN, whose AVX2 channels-last convolution backward in torch
    2.13 corrupts the heap (glibc's "free(): invalid next size", "corrupted double-linked list", or a
    silently wrong gradient) on CPUs with AVX2 but no AVX-512. oneDNN picks the channels-last kernels
    when the input or the weight is channels-last. On an AVX-512 machine the fault is reproduced by
    capping oneDNN's instruction set: ``ONEDNN_MAX_CPU_ISA=AVX2`` with channels-last weights and inputs
    (a frames encoder of ``tests/tiny_models.py``, forward and backward a few times) corrupts the heap
    in most runs; with ``torch.backends.mkldnn.flags(enabled=False)`` (torch's own kernels) it never does.
    """
    return torch.device(device).type == "cuda"


def to_channels_last(model: nn.Module) -> nn.Module:
    """``model`` with its 4-D parameters (conv weights) in channels-last layout, in place; a model
    without convolutions is returned unchanged."""
    return model.to(memory_format=torch.channels_last)


def batch_channels_last(batch: Mapping[str, Any]) -> dict[str, Any]:
    """``batch`` with its 4-D float tensors (B, C, H, W) in channels-last layout; every other entry as is."""
    return {
        k: v.contiguous(memory_format=torch.channels_last) if _is_image_batch(v) else v
        for k, v in batch.items()
    }


def _is_image_batch(value: Any) -> bool:
    return torch.is_tensor(value) and value.dim() == 4 and value.is_floating_point()


def optimizer_flags(device: torch.device | str) -> dict[str, bool]:
    """``{"fused": True}`` where torch has fused SGD/Adam kernels for ``device``, else ``{"foreach": True}``."""
    from torch.utils._foreach_utils import _get_fused_kernels_supported_devices

    return (
        {"fused": True}
        if torch.device(device).type in _get_fused_kernels_supported_devices()
        else {"foreach": True}
    )


def make_optimizer(
    groups: Iterable[dict],
    device: torch.device | str,
    optimizer: str = "sgd",
    *,
    lr: float,
    momentum: float = 0.9,
    weight_decay: float = 0.0,
    fast: bool = True,
) -> torch.optim.Optimizer:
    """``optimizer`` (``"sgd"`` with momentum, or ``"adam"``) over parameter ``groups`` that live on
    ``device``, with the fastest implementation torch has there (:func:`optimizer_flags`), or without
    ``fast`` the ``foreach`` one: torch's default on CUDA, and on a CPU the same per-parameter kernels
    as torch's default loop, called from C++ (the same steps bit for bit, in about 0.6-0.75 of the
    time: 0.93 against 1.53 ms for AV-Digits' quick SGD step, 4.6 against 6.25 ms for rgbd_scenes' Adam)."""
    if optimizer not in OPTIMIZERS:
        raise ConfigError(f"unknown optimizer {optimizer!r}; use one of: {', '.join(OPTIMIZERS)}")
    if lr <= 0 or momentum < 0 or weight_decay < 0:
        raise ConfigError(
            f"need lr > 0, momentum >= 0 and weight_decay >= 0, got {lr}, {momentum}, {weight_decay}"
        )
    flags = optimizer_flags(device) if fast else {"foreach": True}
    if optimizer == "adam":
        return torch.optim.Adam(groups, lr=lr, weight_decay=weight_decay, **flags)
    sgd = torch.optim.SGD(groups, lr=lr, momentum=momentum, weight_decay=weight_decay, **flags)
    if flags.get("fused") and momentum > 0:
        # Fused SGD needs a momentum buffer for every parameter of a step or for none: a method that
        # steps some parameters before others (MLA's modalities in turn) would fail at the first
        # mixed step. A zero buffer's first update, 0 * momentum + grad, equals torch's first buffer
        # (the gradient itself, dampening being 0), so the steps stay the same.
        for group in sgd.param_groups:
            for param in group["params"]:
                sgd.state[param]["momentum_buffer"] = torch.zeros_like(param)
    return sgd


def compile_model(model: nn.Module, enabled: bool = False) -> nn.Module:
    """``model`` with each encoder and the fusion module compiled in place when ``enabled`` (a model
    without ``encoders`` / ``fusion`` is compiled whole); unchanged otherwise."""
    if not isinstance(enabled, bool):
        raise ConfigError(f"compile must be True or False, got {enabled!r}")
    if enabled:
        functorch_config.donated_buffer = False  # else backward(retain_graph=True) raises
        parts = [
            *getattr(model, "encoders", {}).values(),
            *filter(None, [getattr(model, "fusion", None)]),
        ]
        for part in parts or [model]:
            part.compile()
    return model
