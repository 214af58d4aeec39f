"""The gradient one training step writes into each parameter group, to compare methods on one batch.

Eq. 15 writes DGL's objective as the pair ``[L^d, alpha * sum_m L^m]``: each loss is differentiated
only with respect to its own group. :func:`compare_steps` puts that update beside another method's
(e.g. ``joint_aux``, the sum ``L^Multi + alpha * sum_m L^m`` differentiated everywhere) group by group,
on the same model and batch, without changing the model.
"""

from __future__ import annotations

import copy
from typing import Any, Mapping

import pandas as pd
import torch
from torch import Tensor, nn

from ..methods import METHODS
from ..models import MultimodalClassifier


def parameter_groups(model: MultimodalClassifier) -> dict[str, list[nn.Parameter]]:
    """The routing groups: ``"encoder <m>"`` per modality and ``"fusion"`` (fusion module and head)."""
    return {
        **{f"encoder {m}": model.encoder_parameters(m) for m in model.modalities},
        "fusion": model.fusion_parameters(),
    }


def step_gradients(
    model: MultimodalClassifier, method: str, batch: Mapping[str, Any], alpha: float
) -> dict[str, Tensor]:
    """The gradient ``method``'s training step (with ``alpha``, if the method takes one) computes on
    ``batch``, flattened per group (zeros where none reaches).

    Measured in training mode, whatever mode ``model`` is in (a trained model is usually loaded in
    eval mode): batch norm normalises with the batch's statistics, as in the step it stands for.
    Works on a copy: ``model``'s mode, parameters, buffers and ``.grad`` are left as they were.
    """
    clone = copy.deepcopy(model).train()
    clone.zero_grad(set_to_none=True)
    kind = METHODS.get(method)
    kind(**({"alpha": alpha} if kind.takes("alpha") else {})).compute_gradients(clone, batch)
    return {
        name: torch.cat(
            [(torch.zeros_like(p) if p.grad is None else p.grad).flatten() for p in params]
        )
        for name, params in parameter_groups(clone).items()
    }


def compare_steps(
    model: MultimodalClassifier, batch: Mapping[str, Any], first: str, second: str, alpha: float
) -> pd.DataFrame:
    """Per group: the gradient norm under each method, their cosine, and ``|g_1 - g_2| / |g_1|``."""
    a, b = step_gradients(model, first, batch, alpha), step_gradients(model, second, batch, alpha)
    rows = {}
    for group in a:
        na, nb = a[group].norm().item(), b[group].norm().item()
        rows[group] = {
            f"|g| {first}": na,
            f"|g| {second}": nb,
            "cosine": torch.nn.functional.cosine_similarity(a[group], b[group], dim=0).item(),
            "relative difference": (a[group] - b[group]).norm().item() / na
            if na > 0
            else float("nan"),
        }
    return pd.DataFrame.from_dict(rows, orient="index")
