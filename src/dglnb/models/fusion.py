"""Late fusion modules, each ending in the classifier head: {modality: (B, d_m)} -> logits (B, K).

A fusion module's parameters are the model's *fusion parameters* (theta_tau, W and b of eq. 1).
It never zeroes anything itself: the unimodal paths of eq. 12/14 are the same module applied to
features where the other modalities are zeros (:meth:`~dglnb.models.classifier.MultimodalClassifier.fuse`). The official
code defines its unimodal paths per fusion instead; each docstring says where that differs.

A fusion is registered with ``@FUSIONS.register(name)`` and built as ``cls(in_dims, num_classes)``,
``in_dims`` mapping each modality (in the model's order) to its feature size.
"""

from __future__ import annotations

from typing import Callable, Mapping

import torch
from torch import Tensor, nn

from ..registry import Registry

FUSIONS: Registry[Callable[[Mapping[str, int], int], nn.Module]] = Registry("fusion")


def _two_modalities(in_dims: Mapping[str, int], fusion: str) -> tuple[str, str]:
    if len(in_dims) != 2:
        raise ValueError(
            f"{fusion} fusion takes exactly two modalities, got {len(in_dims)}: {', '.join(in_dims)}"
        )
    first, second = in_dims
    return first, second


@FUSIONS.register("concat")
class ConcatFusion(nn.Module):
    """``W [z_1; z_2; ...] + b`` (eq. 1 with concatenation; the paper's default).

    The official ``ConcatFusion_DGL`` computes its unimodal logits the same way, by zeroing.
    """

    def __init__(self, in_dims: Mapping[str, int], num_classes: int) -> None:
        super().__init__()
        self.modalities = tuple(in_dims)
        self.head = nn.Linear(sum(in_dims.values()), num_classes)

    def forward(self, feats: Mapping[str, Tensor]) -> Tensor:
        # W [z_1; z_2; ...] + b (eq. 1; z^tau = [z^{m_1}; z^{m_2}]): (B, sum_m d_m) -> (B, K)
        return self.head(torch.cat([feats[m] for m in self.modalities], dim=1))


@FUSIONS.register("sum")
class SumFusion(nn.Module):
    """``sum_m (W_m z_m + b_m)``: one linear head per modality, logits added.

    Zeroing modality n leaves its bias b_n in the other modalities' unimodal logits (a per-class
    offset, the same for every sample); the official ``SumFusion_DGL`` uses ``W_m z_m + b_m`` alone.
    """

    def __init__(self, in_dims: Mapping[str, int], num_classes: int) -> None:
        super().__init__()
        self.heads = nn.ModuleDict({m: nn.Linear(d, num_classes) for m, d in in_dims.items()})

    def forward(self, feats: Mapping[str, Tensor]) -> Tensor:
        # sum_m (W_m z_m + b_m): (M, B, K) -> (B, K)
        return torch.stack([head(feats[m]) for m, head in self.heads.items()]).sum(dim=0)


@FUSIONS.register("film")
class FiLMFusion(nn.Module):
    """FiLM (Perez et al., 2018): the first modality x modulates the second y, then a linear head.

    ``gamma, beta = split(A x + c)``, ``logits = W ((1 + gamma) * y + beta) + b``. Writing the scale as
    ``1 + gamma`` makes a zeroed x leave y unmodulated (up to the bias c), so both unimodal paths of
    eq. 12/14 stay informative: x alone reaches the head through beta, y alone through the scale.

    The official ``FiLM_DGL`` is instead a bilinear layer on the outer product x (x) y (a
    512*512 -> 512 linear map) and builds its unimodal paths from the self-products x (x) x and
    y (x) y rather than by zeroing.
    """

    def __init__(self, in_dims: Mapping[str, int], num_classes: int) -> None:
        super().__init__()
        self.x, self.y = _two_modalities(in_dims, "film")
        self.film = nn.Linear(in_dims[self.x], 2 * in_dims[self.y])
        self.head = nn.Linear(in_dims[self.y], num_classes)

    def forward(self, feats: Mapping[str, Tensor]) -> Tensor:
        # gamma, beta = split(A x + c): (B, d_y) each
        gamma, beta = self.film(feats[self.x]).chunk(2, dim=1)
        # W ((1 + gamma) * y + beta) + b: (B, K)
        return self.head((1 + gamma) * feats[self.y] + beta)


@FUSIONS.register("gated")
class GatedFusion(nn.Module):
    """Gated fusion: ``logits = W (sigmoid(G x + g) * (1 + V y + v)) + b``, the first modality x gating the second y.

    The value is offset by one, as FiLM's scale is, so that each unimodal path of eq. 12/14 carries
    its modality from the first step: zeroing y leaves ``sigmoid(G x + g) * (1 + v)`` (x through the
    gate), zeroing x leaves ``sigmoid(g) * (1 + V y + v)`` (y through the value). Without the offset,
    zeroing y leaves ``sigmoid(G x + g) * v`` with ``v = 0`` at initialisation, and under DGL x's
    encoder receives exactly zero gradient until the multimodal loss has moved v.

    The official ``GatedFusion_DGL`` builds its unimodal paths by self-gating (``sigmoid(G x) * G x``)
    and detaches the multimodal path after G and V, so under its DGL step G and V receive no
    gradient at all and keep their initial values.
    """

    def __init__(self, in_dims: Mapping[str, int], num_classes: int) -> None:
        super().__init__()
        self.x, self.y = _two_modalities(in_dims, "gated")
        dim = in_dims[self.y]
        self.gate = nn.Linear(in_dims[self.x], dim)
        self.value = nn.Linear(dim, dim)
        self.head = nn.Linear(dim, num_classes)

    def forward(self, feats: Mapping[str, Tensor]) -> Tensor:
        # W (sigmoid(G x + g) * (1 + V y + v)) + b: (B, d_y) -> (B, K)
        return self.head(torch.sigmoid(self.gate(feats[self.x])) * (1 + self.value(feats[self.y])))
