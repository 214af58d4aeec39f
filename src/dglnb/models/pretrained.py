"""Encoders initialised from user-supplied ImageNet ResNet18 weights (``--pretrained PATH``).

The file is a torchvision-format ResNet18 state dict, saved with ``torch.save`` (e.g. the
``state_dict()`` of torchvision's ``resnet18(weights="IMAGENET1K_V1")``); nothing is downloaded.
Every encoder with a ResNet18 trunk (``encoder.backbone``) receives it: its ``fc.*`` entries are
dropped, and an encoder with one input channel (depth, spectrogram) gets the first convolution
summed over the three RGB channels, as ESANet loads ImageNet weights into its depth branch (a grey
input then produces the same stem response as the RGB network on the same grey image). Files
without ``num_batches_tracked`` entries (older torchvision releases) keep the model's counters. The
trunk must have the paper's width, 64; any other missing, unexpected or mismatched entry is named
in a :class:`~dglnb.errors.WeightsError`.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import Tensor, nn

from ..errors import WeightsError

HEAD_PREFIX = "fc."  # torchvision's ImageNet classifier, not part of an encoder
SHOWN = 5  # keys named per problem in an error message


def read_state_dict(path: Path) -> dict[str, Tensor]:
    """The tensors of a ``torch.save``-d state dict, or a WeightsError saying why the file is not one."""
    path = Path(path)
    if not path.is_file():
        raise WeightsError(
            f"pretrained weights {path} do not exist. What to do: pass a torchvision ResNet18 "
            "state dict saved with torch.save"
        )
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many types for a file that is not a checkpoint
        raise WeightsError(
            f"pretrained weights {path} are unreadable ({type(exc).__name__}). What to do: pass a "
            "torchvision ResNet18 state dict saved with torch.save"
        ) from exc
    if not isinstance(state, dict) or not all(isinstance(v, Tensor) for v in state.values()):
        raise WeightsError(
            f"pretrained weights {path} hold a {type(state).__name__}, not a state dict of tensors. "
            "What to do: save model.state_dict(), not the model or a training checkpoint"
        )
    return {k: v for k, v in state.items() if not k.startswith(HEAD_PREFIX)}


def _named(keys: list[str]) -> str:
    more = f" and {len(keys) - SHOWN} more" if len(keys) > SHOWN else ""
    return ", ".join(keys[:SHOWN]) + more


def adapted_state_dict(
    weights: dict[str, Tensor], trunk: nn.Module, path: Path
) -> dict[str, Tensor]:
    """``weights`` made to fit ``trunk`` (the first conv summed over RGB for a one-channel trunk), or a
    WeightsError naming every missing, unexpected and mismatched key."""
    target = trunk.state_dict()
    weights = dict(weights)
    first = weights.get("conv1.weight")
    if first is not None and first.shape[1] == 3 and target["conv1.weight"].shape[1] == 1:
        weights["conv1.weight"] = first.sum(dim=1, keepdim=True)
    counters = {k for k in target if k.endswith("num_batches_tracked")}
    missing = [k for k in target if k not in weights and k not in counters]
    unexpected = [k for k in weights if k not in target]
    mismatched = [
        f"{k} {tuple(weights[k].shape)} vs {tuple(v.shape)}"
        for k, v in target.items()
        if k in weights and weights[k].shape != v.shape
    ]
    problems = [
        f"{label} {_named(keys)}"
        for label, keys in (
            ("missing", missing),
            ("unexpected", unexpected),
            ("mismatched (file vs model)", mismatched),
        )
        if keys
    ]
    if problems:
        width = trunk.conv1.out_channels
        hint = (
            f"train at width 64 (this model's ResNet18 has width {width})"
            if width != 64
            else "pass a torchvision ResNet18 state dict"
        )
        raise WeightsError(
            f"pretrained weights {path} do not fit the encoders' ResNet18: {'; '.join(problems)}. "
            f"What to do: {hint}"
        )
    return {k: weights.get(k, v) for k, v in target.items()}


def load_pretrained_encoders(model: nn.Module, path: Path) -> list[str]:
    """Load the weights in ``path`` into every ResNet18 encoder of ``model``; returns those modalities."""
    weights = read_state_dict(path)
    loaded = []
    for modality, encoder in model.encoders.items():
        trunk = getattr(encoder, "backbone", None)
        if trunk is None:
            continue
        state = adapted_state_dict(weights, trunk, path)
        trunk.load_state_dict(
            {k: v.to(t) for (k, v), t in zip(state.items(), trunk.state_dict().values())}
        )
        loaded.append(modality)
    if not loaded:
        raise WeightsError(
            f"pretrained weights {path}: the model has no ResNet18 encoder (modalities "
            f"{', '.join(model.encoders)}). What to do: leave --pretrained out for this dataset"
        )
    return loaded
