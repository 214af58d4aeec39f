"""``ogm_ge`` and ``ogm``: On-the-fly Gradient Modulation (Peng et al., CVPR 2022), with and without
Generalization Enhancement; official code GeWu-Lab/OGM-GE_CVPR2022 ``main.py``.

One step: the multimodal cross-entropy is back-propagated to every parameter, then each encoder's
gradient is rescaled by how far its modality is ahead of the others:

* ``s_m = sum_i softmax(u_m(x_i))[y_i]``, the confidence of modality m's unimodal logits ``u_m``;
* ``rho_m = s_m / min_n s_n``: with two modalities the paper's ``s_a / s_v`` for the dominant one and
  1 for the other; with more, every modality is compared with the least confident one, as
  BalanceBenchmark's three-modality ``OGM_trainer.py`` does;
* ``k_m = 1 - tanh(modulation_alpha * rho_m)`` if ``rho_m > 1``, else 1 (the paper's eq. 10, as coded);
* ``g <- k_m g`` for every gradient tensor of encoder m, and for ``ogm_ge`` also ``+ N(0, std(g)^2)``
  drawn per tensor, with ``std(g)`` of the unscaled gradient (+1e-8), on every encoder,

only during epochs ``modulation_starts <= epoch <= modulation_ends``; outside them it is vanilla
training. The fusion parameters always keep the plain multimodal gradient. Each step also logs
``coeff_<m>`` (k_m; 1 outside the modulation epochs).

Published ``modulation_alpha`` (the paper's alpha; the base ``alpha``, DGL's unimodal weight, is
unused): 0.8 on CREMA-D and 0.1 on VGGSound (the README), 0.1 elsewhere (its default command); the
code modulates epochs 0-50.

Where the paper, the official code and the DGL paper's protocol differ (constructor options):

* ``conv_only``: the code modulates only 4-D (convolution weight) gradients, leaving linear layers,
  BatchNorm and biases alone; the paper modulates the encoder's gradient. Default False (the paper),
  so MLP encoders, which have no 4-D weights, are modulated at all.
* ``half_bias``: OGM's paper and code score modality m with ``W_m z_m + b/2`` (the concat head split
  in two); the DGL paper obtains unimodal logits by zeroing the other modalities (full ``b``). Default
  True (OGM's); with M modalities the bias share is ``b/M``, computed for any fusion as
  ``fuse_alone(m) - (1 - 1/M) * fuse(all zeroed)``.
* The paper's noise has the covariance of the stochastic gradient; the code (and this) uses an
  isotropic Gaussian with the standard deviation of the gradient tensor's entries.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar, Iterable, Mapping

import torch
from torch import Tensor

from ..models import MultimodalClassifier
from . import METHODS
from .base import Batch, Method, scalar_logs, true_class_probability


@METHODS.register("ogm_ge")
class OGMGE(Method):
    """Multimodal CE, then the encoders ahead of the weakest scaled by k_m, plus Gaussian noise (GE)."""

    gradient_noise: ClassVar[bool] = True
    PUBLISHED = {
        "*": dict(modulation_alpha=0.1, modulation_starts=0, modulation_ends=50),
        "cremad": dict(modulation_alpha=0.8),
        "vggsound": dict(modulation_alpha=0.1),
    }

    def __init__(
        self,
        modulation_alpha: float | None = None,
        modulation_starts: int | None = None,
        modulation_ends: int | None = None,
        conv_only: bool = False,
        half_bias: bool = True,
        **kw: Any,
    ) -> None:
        super().__init__(**kw)
        self.set_published(
            modulation_alpha=modulation_alpha,
            modulation_starts=modulation_starts,
            modulation_ends=modulation_ends,
        )
        if self.modulation_alpha < 0:
            raise ValueError(f"modulation_alpha must be >= 0, got {self.modulation_alpha}")
        self.conv_only = conv_only
        self.half_bias = half_bias
        self.epoch = 0

    def on_epoch_start(
        self,
        epoch: int,
        model: MultimodalClassifier,
        loaders: Mapping[str, Iterable],
        optimizer: torch.optim.Optimizer,
    ) -> None:
        self.epoch = epoch

    @torch.no_grad()
    def unimodal_logits(
        self, model: MultimodalClassifier, feats: Mapping[str, Tensor]
    ) -> dict[str, Tensor]:
        """u_m: the fusion with the other modalities zeroed; with ``half_bias``, less (1 - 1/M) of the
        all-zero output."""
        feats = {m: z.detach() for m, z in feats.items()}
        logits = {m: model.fuse_alone(feats, m) for m in model.modalities}
        if self.half_bias:
            share = model.fuse(feats, zero=model.modalities) * (1 - 1 / len(model.modalities))
            # u_m = fuse(z_m alone) - (1 - 1/M) fuse(0): m's logits with a bias share b/M, (B, K)
            logits = {m: u - share for m, u in logits.items()}
        return logits

    def coefficients(self, logits: Mapping[str, Tensor], labels: Tensor) -> dict[str, float]:
        """k_m from the confidences s_m of the unimodal logits (1 for the least confident modality)."""
        # s_m = sum_i softmax(u_m)_i[y_i]
        scores = {m: float(true_class_probability(u, labels).sum()) for m, u in logits.items()}
        weakest = min(scores.values())
        # k_m = 1 - tanh(alpha rho_m) where rho_m = s_m / min_n s_n > 1, else 1
        return {
            m: 1 - math.tanh(self.modulation_alpha * s / weakest) if s > weakest else 1.0
            for m, s in scores.items()
        }

    def modulated_parameters(
        self, model: MultimodalClassifier, modality: str
    ) -> list[torch.nn.Parameter]:
        """The encoder parameters whose gradients are modulated (only 4-D ones with ``conv_only``)."""
        params = [p for p in model.encoder_parameters(modality) if p.grad is not None]
        return [p for p in params if p.dim() == 4] if self.conv_only else params

    def compute_gradients(self, model: MultimodalClassifier, batch: Batch) -> dict[str, Tensor]:
        y = batch["label"]
        feats = model.encode(batch)
        # L^Multi = L_CE(W z^tau + b, y): a scalar
        loss = model.loss(model.fuse(feats), y)
        loss.backward()
        coeffs = dict.fromkeys(model.modalities, 1.0)
        if self.modulation_starts <= self.epoch <= self.modulation_ends:
            coeffs = self.coefficients(self.unimodal_logits(model, feats), y)
            with torch.no_grad():
                for m in model.modalities:
                    for p in self.modulated_parameters(model, m):
                        # g <- k_m g + N(0, std(g)^2) (GE), every gradient tensor of encoder m
                        noise = (
                            torch.randn_like(p.grad) * (p.grad.std() + 1e-8)
                            if self.gradient_noise
                            else 0.0
                        )
                        p.grad = p.grad * coeffs[m] + noise
        return {"loss_multi": loss.detach(), **scalar_logs("coeff", coeffs)}


@METHODS.register("ogm")
class OGM(OGMGE):
    """OGM without generalization enhancement: the dominant encoder's gradient scaled by k_m, no noise."""

    gradient_noise = False
