"""``dgl``: Disentangled Gradient Learning (Algorithm 1, eq. 9-15), its ablations and ``joint_aux``.

DGL is a rule about which loss writes which parameter group:

* fusion parameters (theta_tau, W, b) receive only the multimodal loss L^d, computed on detached
  features (eq. 9-10, *multimodal truncation*, MT);
* encoder m receives only alpha * dL^m/dtheta_m, where L^m is the loss of the same fusion with every
  other modality zeroed (eq. 11-14); no unimodal gradient reaches the fusion parameters
  (*unimodal truncation*, UT).

Eq. 15 writes the total loss as the pair [L^d, alpha * sum_m L^m] rather than their sum because the two
never share a parameter: each is differentiated only with respect to its own group. Here each loss is
built so that its graph holds only the parameters it may reach (L^d on detached features; L^m through
the fusion with the fusion's parameters frozen, under UT), so one backward pass of their sum routes
every gradient, and each encoder is run and backpropagated once. A fusion that runs encoder layers
itself (MMTM: ``model.separable`` is False) routes each loss explicitly, ``backward(inputs=group)``.

The two truncations are switches, giving the rows of Table 3 and Table 4:

=============  =====================================  ==========================================
method         L^Multi (L^d when detached) reaches    alpha * L^m reaches
=============  =====================================  ==========================================
``dgl``        fusion                                 encoder m
``dgl_mt``     fusion                                 encoder m and fusion
``dgl_ut``     every encoder and fusion               encoder m
``joint_aux``  every encoder and fusion               encoder m and fusion
=============  =====================================  ==========================================

``joint_aux`` (L^Multi + alpha * sum_m L^m, no truncation) is the G-Blending-style unimodal-assistance
baseline of Table 4, with the unimodal logits taken from the shared head by zeroing.

Batch norm: the unimodal passes normalise by their own batch statistics (training mode) but leave
the running statistics alone, so those used at test time come from the multimodal forward pass only
(the encoders run once; fusion layers with batch norm, e.g. the segmentation decoder, would
otherwise average in inputs with a modality zeroed).
"""

from __future__ import annotations

from typing import Any, ClassVar

from torch import Tensor

from ..models import MultimodalClassifier, frozen_running_stats, parameters_frozen
from . import METHODS
from .base import Batch, Method, checked_alpha


@METHODS.register("dgl")
class DGL(Method):
    """Both truncations (MT + UT): the paper's method. ``alpha`` defaults to 4 as in the official code."""

    truncate_multimodal: ClassVar[bool] = True  # MT: L^Multi reaches the fusion parameters only
    truncate_unimodal: ClassVar[bool] = True  # UT: L^m reaches encoder m only

    def __init__(self, alpha: float = 4.0, **kw: Any) -> None:
        super().__init__(**kw)
        self.alpha = checked_alpha(alpha)  # the weight of every unimodal loss L^m (eq. 15)

    def compute_gradients(self, model: MultimodalClassifier, batch: Batch) -> dict[str, Tensor]:
        y = batch["label"]
        feats = model.encode(batch)  # encoders run once
        fusion = model.fusion_parameters()
        one_pass = model.separable
        unimodal = {}
        freeze_fusion = one_pass and self.truncate_unimodal
        # [eq. 11-14] L^m: the same fusion with every other modality zeroed
        for m in model.modalities:
            with frozen_running_stats(model), parameters_frozen(fusion, freeze_fusion):
                unimodal[m] = model.loss(model.fuse_alone(feats, m), y)
        # [/eq. 11-14]
        # [eq. 9-10] (MT): L^d on detached features, so that it reaches the fusion parameters only
        fused_input = {m: z.detach() for m, z in feats.items()} if self.truncate_multimodal else feats
        loss_multi = model.loss(model.fuse(fused_input), y)
        # [/eq. 9-10]
        # [eq. 15] the pair [L^d, alpha * sum_m L^m], each loss written into its own group
        if one_pass:  # each loss's graph holds only the parameters it may reach: one backward pass
            (self.alpha * sum(unimodal.values()) + loss_multi).backward()
        else:  # the fusion runs encoder layers itself (MMTM): each loss routed to its group
            for m, loss_m in unimodal.items():
                reached = model.encoder_parameters(m) + ([] if self.truncate_unimodal else fusion)
                (self.alpha * loss_m).backward(inputs=reached, retain_graph=True)
            loss_multi.backward(inputs=fusion if self.truncate_multimodal else list(model.parameters()))
        # [/eq. 15]
        losses = {"loss_multi": loss_multi, **{f"loss_{m}": loss for m, loss in unimodal.items()}}
        return {name: loss.detach() for name, loss in losses.items()}


@METHODS.register("dgl_mt")
class DGLMultimodalTruncation(DGL):
    """MT only: encoders get no multimodal gradient; alpha * L^m updates encoder m and the fusion."""

    truncate_unimodal = False


@METHODS.register("dgl_ut")
class DGLUnimodalTruncation(DGL):
    """UT only: L^Multi (not detached) updates everything; alpha * L^m updates encoder m only."""

    truncate_multimodal = False


@METHODS.register("joint_aux")
class JointAuxiliary(DGL):
    """No truncation: L^Multi + alpha * sum_m L^m, every loss to every parameter it depends on."""

    truncate_multimodal = False
    truncate_unimodal = False
