"""A multimodal classifier: one encoder per modality, then a late fusion module that ends in the head."""

from __future__ import annotations

from typing import Collection, Mapping

import torch
from torch import Tensor, nn


class MultimodalClassifier(nn.Module):
    """``logits = fusion({m: encoder_m(x_m)})`` with the parameters split into routing groups.

    The groups are each modality's encoder (theta_m) and the fusion module with its head
    (theta_tau, W, b); they are disjoint and together hold every parameter of the model.
    """

    def __init__(self, encoders: Mapping[str, nn.Module], fusion: nn.Module, num_classes: int) -> None:
        super().__init__()
        self.modalities: tuple[str, ...] = tuple(encoders)
        self.num_classes = num_classes
        self.encoders = nn.ModuleDict(encoders)
        self.fusion = fusion

    def encode(self, batch: Mapping[str, Tensor]) -> dict[str, Tensor]:
        """z_m = phi_m(theta_m, x_m) for every modality; each encoder runs once."""
        return {m: self.encoders[m](batch[m]) for m in self.modalities}

    def fuse(self, feats: Mapping[str, Tensor], zero: Collection[str] = ()) -> Tensor:
        """Logits from features, with the modalities in ``zero`` replaced by zeros (eq. 12/14)."""
        unknown = set(zero) - set(self.modalities)
        if unknown:
            raise ValueError(
                f"cannot zero unknown modalities {sorted(unknown)}; the model has {', '.join(self.modalities)}"
            )
        return self.fusion({m: torch.zeros_like(feats[m]) if m in zero else feats[m] for m in self.modalities})

    def fuse_alone(self, feats: Mapping[str, Tensor], modality: str) -> Tensor:
        """The unimodal logits of ``modality``: the same fusion with every other modality zeroed."""
        return self.fuse(feats, zero=[m for m in self.modalities if m != modality])

    def forward(self, batch: Mapping[str, Tensor], zero: Collection[str] = ()) -> Tensor:
        return self.fuse(self.encode(batch), zero)

    def encoder_parameters(self, modality: str) -> list[nn.Parameter]:
        """theta_m: the parameters of ``modality``'s encoder."""
        if modality not in self.encoders:
            raise ValueError(f"unknown modality {modality!r}; the model has {', '.join(self.modalities)}")
        return list(self.encoders[modality].parameters())

    def fusion_parameters(self) -> list[nn.Parameter]:
        """theta_tau, W, b: the fusion module and its classifier head."""
        return list(self.fusion.parameters())
