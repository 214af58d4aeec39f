"""``dgl``: Disentangled Gradient Learning (Algorithm 1, eq. 9-15), its ablations and ``joint_aux``.

DGL is a rule about which loss writes which parameter group:

* fusion parameters (theta_tau, W, b) receive only the multimodal loss L^d, computed on detached
  features (eq. 9-10, *multimodal truncation*, MT);
* encoder m receives only alpha * dL^m/dtheta_m, where L^m is the loss of the same fusion with every
  other modality zeroed (eq. 11-14); no unimodal gradient reaches the fusion parameters
  (*unimodal truncation*, UT).

The losses and their routing are the public :func:`dglnb.methods.routing.dgl_loss` (eq. 9-15),
which any training loop can call; this method gives it a dglnb model's features, fusion module and
stand-in for a dropped modality. A fusion that runs encoder layers itself (MMTM: ``model.separable``
is False) is handed over with its parameter groups named, and each loss is routed to its group.

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

Two options beyond the paper (``method_options``): ``fusion_dropout`` (lambda >= 0, default 0,
the paper's DGL, whose fusion never sees a dropped modality) also trains the fusion on the unimodal
paths, on detached features (``+ lambda * mean_m L^d(m alone)``; lambda = alpha * M gives the fusion
exactly ``dgl_mt``'s gradients), and ``clip``: with ``grad_clip`` set, ``"per_group"`` (default)
clips the fusion and each encoder separately, so that the encoders' alpha-scaled gradients cannot
shrink the fusion's step; ``"global"`` clips all parameters together, as the official code does;
``"none"`` does not clip.

Batch norm: the passes with a modality dropped normalise by their own batch statistics but leave
the running statistics alone, so those used at test time come from the multimodal pass only.
"""

from __future__ import annotations

from contextlib import nullcontext
from typing import Any, ClassVar, Mapping

from torch import Tensor, nn

from ..models import MultimodalClassifier, frozen_running_stats
from . import METHODS
from .base import Batch, Method, checked_alpha
from .routing import dgl_loss

CLIPS = ("per_group", "global", "none")


@METHODS.register("dgl")
class DGL(Method):
    """Both truncations (MT + UT): the paper's method. ``alpha`` defaults to 4 as in the official code."""

    truncate_multimodal: ClassVar[bool] = True  # MT: L^Multi reaches the fusion parameters only
    truncate_unimodal: ClassVar[bool] = True  # UT: L^m reaches encoder m only

    def __init__(
        self, alpha: float = 4.0, fusion_dropout: float = 0.0, clip: str = "per_group", **kw: Any
    ) -> None:
        super().__init__(**kw)
        self.alpha = checked_alpha(alpha)  # the weight of every unimodal loss L^m (eq. 15)
        if fusion_dropout < 0:
            raise ValueError(f"fusion_dropout must be >= 0, got {fusion_dropout}")
        if clip not in CLIPS:
            raise ValueError(f"clip must be one of {', '.join(CLIPS)}, got {clip!r}")
        self.fusion_dropout = fusion_dropout
        self.clip = clip

    def compute_gradients(self, model: MultimodalClassifier, batch: Batch) -> dict[str, Tensor]:
        feats = model.encode(batch)  # encoders run once
        # L^d (eq. 9-10) and each L^m (eq. 11-14) as the pair [L^d, alpha sum_m L^m] (eq. 15)
        result = dgl_loss(feats, target=batch["label"], loss_fn=model.loss, **self.settings(model))
        # theta_tau, W, b <- dL^d/d(theta_tau, W, b); theta_m <- alpha dL^m/dtheta_m
        result.backward()
        losses = {
            "loss_multi": result.multimodal,
            **{f"loss_{m}": loss for m, loss in result.unimodal.items()},
            **{f"loss_fusion_{m}_alone": loss for m, loss in result.fusion_alone.items()},
        }
        return {name: loss.detach() for name, loss in losses.items()}

    def settings(self, model: MultimodalClassifier) -> dict[str, Any]:
        """:func:`~dglnb.methods.routing.dgl_loss`'s settings for this method on ``model``: alpha, the two truncations,
        ``fusion_dropout``, and how the loss reaches the model's fusion (:func:`routing`)."""
        return {
            "alpha": self.alpha,
            "truncate_multimodal": self.truncate_multimodal,
            "truncate_unimodal": self.truncate_unimodal,
            "fusion_dropout": self.fusion_dropout,
            **routing(model),
        }

    def clip_groups(self, model: MultimodalClassifier) -> dict[str, list[nn.Parameter]]:
        """Per routed group (``fusion``, then each encoder by its modality), all parameters together
        (``clip="global"``), or none (``clip="none"``: ``grad_clip`` is ignored)."""
        if self.clip == "global":
            return super().clip_groups(model)
        if self.clip == "none":
            return {}
        return {
            "fusion": model.fusion_parameters(),
            **{m: model.encoder_parameters(m) for m in model.modalities},
        }


def routing(model: MultimodalClassifier) -> dict[str, Any]:
    """How :func:`~dglnb.methods.routing.dgl_loss` reaches ``model``'s fusion: its fusion module,
    with the model's stand-in for a dropped modality; or, where the fusion runs encoder layers,
    ``model.fuse`` with the groups named and a dropped modality passed as None (MMTM drops it at
    every transfer module)."""
    if model.separable:
        return {"fusion": model.fusion, "drop": model.zero_features}
    return {
        "fusion": lambda inputs: fuse_present(model, inputs),
        "drop": lambda z: None,
        "encoder_parameters": {m: model.encoder_parameters(m) for m in model.modalities},
        "fusion_parameters": model.fusion_parameters(),
    }


def fuse_present(model: MultimodalClassifier, inputs: Mapping[str, Any]) -> Tensor:
    """``model.fuse`` of the modalities in ``inputs`` that are not None, the others zeroed; a pass with
    a modality zeroed leaves batch-norm running statistics alone."""
    zero = [m for m, z in inputs.items() if z is None]
    present = next(z for z in inputs.values() if z is not None)
    with frozen_running_stats(model) if zero else nullcontext():
        return model.fuse({m: present if z is None else z for m, z in inputs.items()}, zero)


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
