"""Which forward passes may update batch-norm running statistics."""

from __future__ import annotations

import contextlib
from typing import Iterator

from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm


@contextlib.contextmanager
def frozen_running_stats(module: nn.Module) -> Iterator[None]:
    """Inside, every batch-norm layer of ``module`` normalises as before (by the batch in training mode,
    by its running statistics in eval mode) but leaves its running mean, variance and batch count as
    they are.

    For auxiliary forward passes on inputs the model never sees at test time, such as DGL's unimodal
    passes with the other modalities zeroed: their gradients are unchanged, only the statistics used
    at test time stay those of the real (multimodal) passes.
    """
    layers = [layer for layer in module.modules() if isinstance(layer, _BatchNorm) and layer.track_running_stats]
    for layer in layers:
        layer.track_running_stats = False  # in training mode: batch statistics, no running update
    try:
        yield
    finally:
        for layer in layers:
            layer.track_running_stats = True

