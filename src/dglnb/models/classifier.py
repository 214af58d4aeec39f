"""A multimodal classifier: one encoder per modality, then a late fusion module that ends in the head.

The methods use only this interface (encode / fuse / fuse_alone, the parameter groups, ``loss`` and
``unimodal_head``), so a model for another task (:mod:`dglnb.models.segmentation`) or a fusion
interleaved with the encoders (:mod:`dglnb.models.mmtm`) subclasses it.
"""

from __future__ import annotations

from typing import Any, ClassVar, Collection, Mapping

import torch
import torch.nn.functional as F
from torch import Tensor, nn


class MultimodalClassifier(nn.Module):
    """``logits = fusion({m: encoder_m(x_m)})`` with the parameters split into routing groups.

    The groups are each modality's encoder (theta_m) and the fusion module with its head
    (theta_tau, W, b); they are disjoint and together hold every parameter of the model.
    """

    task: ClassVar[str] = "classification"
    #: Whether the fusion reads each modality only through :meth:`encode`'s output, so that a loss on
    #: detached features reaches the fusion parameters alone (False where the fusion runs encoder layers).
    separable: ClassVar[bool] = True

    def __init__(
        self, encoders: Mapping[str, nn.Module], fusion: nn.Module, num_classes: int
    ) -> None:
        super().__init__()
        self.modalities: tuple[str, ...] = tuple(encoders)
        self.num_classes = num_classes
        self.encoders = nn.ModuleDict(encoders)
        self.fusion = fusion

    def encode(self, batch: Mapping[str, Tensor]) -> dict[str, Tensor]:
        """Every modality's features; each encoder runs once."""
        # z_m = phi_m(theta_m, x_m): (B, d_m) per modality
        return {m: self.encoders[m](batch[m]) for m in self.modalities}

    def kept_modalities(self, zero: Collection[str]) -> list[str]:
        """The modalities not in ``zero``, in the model's order; an unknown name in ``zero`` is an error."""
        unknown = set(zero) - set(self.modalities)
        if unknown:
            raise ValueError(
                f"cannot zero unknown modalities {sorted(unknown)}; the model has {', '.join(self.modalities)}"
            )
        return [m for m in self.modalities if m not in zero]

    def fuse(self, feats: Mapping[str, Tensor], zero: Collection[str] = ()) -> Tensor:
        """Logits from features, with the modalities in ``zero`` replaced by zeros (eq. 12/14)."""
        kept = self.kept_modalities(zero)
        # z_n -> 0 for every n in zero (modality dropout, eq. 12/14): the shapes of feats
        inputs = {
            m: feats[m] if m in kept else self.zero_features(feats[m]) for m in self.modalities
        }
        # W z^tau + b, z^tau = phi_tau(theta_tau, z_1, ..., z_M) (eq. 1): (B, K) logits
        return self.fusion(inputs)

    def zero_features(self, z: Any) -> Any:
        """The stand-in for a dropped modality's features z: zeros of the same shape."""
        return torch.zeros_like(z)

    def fuse_alone(self, feats: Mapping[str, Tensor], modality: str) -> Tensor:
        """The unimodal logits of ``modality``: the same fusion with every other modality zeroed."""
        # W phi_tau(theta_tau, z_m, 0) + b (eq. 12/14): (B, K)
        return self.fuse(feats, zero=[m for m in self.modalities if m != modality])

    def forward(self, batch: Mapping[str, Tensor], zero: Collection[str] = ()) -> Tensor:
        return self.fuse(self.encode(batch), zero)

    def encode_alone(self, batch: Mapping[str, Tensor], modality: str) -> Tensor:
        """``modality``'s feature vector, (B, d), from its own input and encoder alone (a unimodal model's
        features, e.g. MLA's alternating steps); here its encoder's output."""
        return self.encoders[modality](batch[modality])

    def modality_feature(self, feats: Mapping[str, Tensor], modality: str) -> Tensor:
        """``modality``'s own representation, (B, d), from :meth:`encode`'s output: what a separate
        unimodal head (e.g. MMPareto's) and the linear probe read; here its encoder's features."""
        return feats[modality]

    def modality_features(self, batch: Mapping[str, Tensor]) -> dict[str, Tensor]:
        """Every modality's :meth:`modality_feature` of ``batch`` (for the linear probe)."""
        feats = self.encode(batch)
        return {m: self.modality_feature(feats, m) for m in self.modalities}

    def loss(self, logits: Tensor, labels: Tensor) -> Tensor:
        """The task loss: cross-entropy, averaged over the batch."""
        # L_CE(logits, y), mean over the batch: logits (B, K), y (B,)
        return F.cross_entropy(logits, labels)

    def unimodal_head(self, modality: str) -> nn.Module:
        """A new head reading ``modality``'s features alone (the ``unimodal`` method's model of eq. 7)."""
        return nn.Linear(self.encoders[modality].out_dim, self.num_classes)

    def encoder_parameters(self, modality: str) -> list[nn.Parameter]:
        """theta_m: the parameters of ``modality``'s encoder."""
        if modality not in self.encoders:
            raise ValueError(
                f"unknown modality {modality!r}; the model has {', '.join(self.modalities)}"
            )
        return list(self.encoders[modality].parameters())

    def fusion_parameters(self) -> list[nn.Parameter]:
        """theta_tau, W, b: the fusion module and its classifier head."""
        return list(self.fusion.parameters())
