"""Which forward passes may update batch-norm running statistics, and batch-norm statistics
re-estimated for an input pattern."""

from __future__ import annotations

import contextlib
from typing import Any, Callable, Iterable, Iterator

import torch
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
    layers = [
        layer
        for layer in module.modules()
        if isinstance(layer, _BatchNorm) and layer.track_running_stats
    ]
    for layer in layers:
        layer.track_running_stats = False  # in training mode: batch statistics, no running update
    try:
        yield
    finally:
        for layer in layers:
            layer.track_running_stats = True


def norm_layers_in(run: Callable[[], Any], module: nn.Module) -> list[_BatchNorm]:
    """The batch-norm layers of ``module`` (those with running statistics) that ``run()`` calls."""
    layers = [
        layer
        for layer in module.modules()
        if isinstance(layer, _BatchNorm) and layer.track_running_stats
    ]
    called: list[_BatchNorm] = []
    hooks = [
        layer.register_forward_pre_hook(lambda layer, _: called.append(layer)) for layer in layers
    ]
    try:
        run()
    finally:
        for hook in hooks:
            hook.remove()
    return list(dict.fromkeys(called))


@contextlib.contextmanager
def recalibrated_stats(
    layers: list[_BatchNorm], passes: Iterable[Callable[[], Any]]
) -> Iterator[None]:
    """Inside, ``layers`` normalise (in eval mode) with running statistics re-estimated by ``passes``
    (each a forward pass through them, run without gradients): the plain average over the passes'
    batches, as precise-BN estimates them. The statistics gathered in training are restored on exit.

    For scoring an input pattern training never ran with those statistics, e.g. a fused model with a
    modality zeroed, whose fusion layers otherwise normalise by statistics of fused inputs."""
    saved = [
        ({k: v.clone() for k, v in layer.state_dict().items()}, layer.momentum, layer.training)
        for layer in layers
    ]
    try:
        for layer in layers:
            layer.reset_running_stats()
            layer.momentum = None  # cumulative moving average: every batch counts alike
            layer.train()
        with torch.no_grad():
            for run in passes:
                run()
        for layer in layers:
            layer.eval()
        yield
    finally:
        for layer, (state, momentum, training) in zip(layers, saved):
            layer.load_state_dict(state)
            layer.momentum = momentum
            layer.train(training)
