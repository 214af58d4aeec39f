"""``mmpareto``: MMPareto (Wei & Hu, ICML 2024), Pareto integration of multimodal and unimodal gradients.

The loss is ``L^Multi + sum_m L^m``. Heads receive their plain gradients; each encoder m receives a
combination of its two gradients, g_mm = dL^Multi/dtheta_m and g_u = dL^m/dtheta_m:

1. direction: if cos(g_mm, g_u) > 0 the weights are (1/2, 1/2); otherwise the MinNorm weights of the
   two vectors, ``w_mm = (|g_u|^2 - g_mm.g_u) / |g_mm - g_u|^2``, ``w_u = 1 - w_mm`` (the official
   ``MinNormSolver``, whose clamps to [0.001, 0.999] only act when the vectors do not conflict);
   ``g_new = 2 (w_mm g_mm + w_u g_u)``;
2. magnitude: where the summed gradient ``g_sum = g_mm + g_u`` is longer than ``g_new``, ``g_new`` is
   rescaled to ``|g_sum|``; then the result is multiplied by ``gamma`` (1.5).

This follows the official ``code/MMPareto.py`` (defaults: its CREMA-D script; gamma is hard-coded there).
Switches where implementations differ:

* ``rescale``: the official code compares norms *per parameter tensor* (``"tensor"``, default), while
  the cosine and the weights are computed over the whole encoder; ``"encoder"`` compares the norms
  of the whole encoder's gradients, the level at which the direction was chosen (there
  ``|g_new| <= |g_sum|`` always, so the result has exactly gamma times the summed gradient's norm).
* ``unimodal_logits``: the official model has a separate linear head per modality (``"separate"``,
  default); ``"zeroed"`` takes L^m from the shared fusion with the other modalities zeroed, the
  protocol the DGL paper states for MMPareto in its dense-fusion comparison (Table 2).

BalanceBenchmark's MMPareto accumulates gradients across its backward passes without zeroing them and
leaves the weights unset in the conflict case; neither is reproduced. Evaluation reports every modality
the paper's way (the shared fusion with the others zeroed); the separate heads only train the encoders.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from ..models import MultimodalClassifier
from . import METHODS
from .base import Batch, Method
from .unimodal import add_unimodal_heads

RESCALES = ("tensor", "encoder")
UNIMODAL_LOGITS = ("separate", "zeroed")


def min_norm_weights(g1: Tensor, g2: Tensor) -> tuple[float, float]:
    """(w, 1 - w) minimising ``|w g1 + (1 - w) g2|`` over w in [0, 1], as the official ``MinNormSolver``
    computes it for two vectors (w = 0.999 or 0.001 where the minimum is at an end)."""
    v11, v12, v22 = (
        float((a * b).sum()) for a, b in ((g1, g1), (g1, g2), (g2, g2))
    )  # no low-precision matmul
    if v12 >= v11:
        w = 0.999
    elif v12 >= v22:
        w = 0.001
    else:
        # w = (|g2|^2 - g1.g2) / |g1 - g2|^2
        w = (v22 - v12) / (v11 + v22 - 2 * v12)
    return w, 1 - w


def pareto_weights(g_mm: Tensor, g_u: Tensor) -> tuple[float, float]:
    """Equal weights when the two gradients agree (cosine > 0), else the MinNorm weights."""
    if torch.nn.functional.cosine_similarity(g_mm, g_u, dim=0) > 0:
        return 0.5, 0.5
    return min_norm_weights(g_mm, g_u)


def stretch(g_new: Tensor, g_sum: Tensor) -> Tensor | float:
    """The factor that gives ``g_new`` the norm of ``g_sum`` where that is longer, else 1 (never shrinks)."""
    new_norm, sum_norm = g_new.norm(), g_sum.norm()
    return sum_norm / new_norm if sum_norm > new_norm > 0 else 1.0


def _flat(grads: list[Tensor]) -> Tensor:
    return torch.cat([g.flatten() for g in grads])


@METHODS.register("mmpareto")
class MMPareto(Method):
    """Encoder gradients integrated per encoder by direction (MinNorm under conflict) and magnitude."""

    PUBLISHED = {"*": dict(gamma=1.5)}  # hard-coded in the official code, for every dataset

    def __init__(
        self,
        gamma: float | None = None,
        rescale: str = "tensor",
        unimodal_logits: str = "separate",
        **kw: Any,
    ) -> None:
        super().__init__(**kw)
        self.set_published(gamma=gamma)
        if self.gamma <= 0:
            raise ValueError(f"gamma must be positive, got {self.gamma}")
        if rescale not in RESCALES:
            raise ValueError(f"rescale must be one of {', '.join(RESCALES)}, got {rescale!r}")
        if unimodal_logits not in UNIMODAL_LOGITS:
            raise ValueError(
                f"unimodal_logits must be one of {', '.join(UNIMODAL_LOGITS)}, got {unimodal_logits!r}"
            )
        self.rescale, self.unimodal_logits = rescale, unimodal_logits

    def setup(self, model: MultimodalClassifier) -> None:
        if self.unimodal_logits == "separate":
            add_unimodal_heads(model)

    def unimodal_loss(
        self, model: MultimodalClassifier, feats: dict[str, Tensor], m: str, y: Tensor
    ) -> Tensor:
        """L^m: modality m's own head, or the shared fusion with the other modalities zeroed."""
        if self.unimodal_logits == "separate":
            logits = model.unimodal_heads[m](model.modality_feature(feats, m))
        else:
            logits = model.fuse_alone(feats, m)
        return model.loss(logits, y)

    def integrate(self, g_mm: list[Tensor], g_u: list[Tensor]) -> list[Tensor]:
        """One encoder's final gradient, per parameter tensor, from its multimodal and unimodal gradients."""
        w_mm, w_u = pareto_weights(_flat(g_mm), _flat(g_u))
        # g_new = 2 (w_mm g_mm + w_u g_u), g_sum = g_mm + g_u, per parameter tensor
        g_new = [2 * (w_mm * a + w_u * b) for a, b in zip(g_mm, g_u)]
        g_sum = [a + b for a, b in zip(g_mm, g_u)]
        if self.rescale == "tensor":
            factors = [stretch(n, s) for n, s in zip(g_new, g_sum)]
        else:
            factors = [stretch(_flat(g_new), _flat(g_sum))] * len(g_new)
        # gamma * max(1, |g_sum| / |g_new|) * g_new
        return [self.gamma * f * n for f, n in zip(factors, g_new)]

    def compute_gradients(self, model: MultimodalClassifier, batch: Batch) -> dict[str, Tensor]:
        y = batch["label"]
        feats = model.encode(batch)
        loss_multi = model.loss(model.fuse(feats), y)
        losses = {m: self.unimodal_loss(model, feats, m, y) for m in model.modalities}
        encoders = {m: model.encoder_parameters(m) for m in model.modalities}
        final = {}
        for m, params in encoders.items():
            # g_mm = dL^Multi/dtheta_m and g_u = dL^m/dtheta_m, one tensor per parameter
            g_mm = torch.autograd.grad(loss_multi, params, retain_graph=True, allow_unused=True)
            g_u = torch.autograd.grad(losses[m], params, retain_graph=True, allow_unused=True)
            zeros = [torch.zeros_like(p) for p in params]
            final[m] = self.integrate(
                [z if g is None else g for g, z in zip(g_mm, zeros)],
                [z if g is None else g for g, z in zip(g_u, zeros)],
            )
        encoder_ids = {id(p) for params in encoders.values() for p in params}
        heads = [p for p in model.parameters() if id(p) not in encoder_ids]
        # the heads (and fusion) take d(L^Multi + sum_m L^m) as it is
        (loss_multi + sum(losses.values())).backward(inputs=heads)
        for m, params in encoders.items():
            for p, g in zip(params, final[m]):
                p.grad = g
        return {
            "loss_multi": loss_multi.detach(),
            **{f"loss_{m}": loss.detach() for m, loss in losses.items()},
        }
