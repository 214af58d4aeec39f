"""MLP-Mixer fusion of three sequence modalities in the style of CubeMLP (Sun et al., ACM MM 2022).

::

    audio  (B, T, d_a) -> per-step MLP -> (B, T, D) --+
    visual (B, T, d_v) -> per-step MLP -> (B, T, D) --+-> cube (B, T, 3, D) -> L x [mix time steps,
    text   (B, T, d_t) -> per-step MLP -> (B, T, D) --+      mix modalities, mix channels]
                                        -> mean over T -> flatten (B, 3 D) -> linear head

Each mixing step is an MLP along one axis of the cube (hidden size twice that axis, GELU) added
back to its input after a LayerNorm over channels, as in MLP-Mixer (Tolstikhin et al., 2021).
Mixing along modalities is what makes this a fusion of three; the time and channel MLPs are shared
by the modalities.

Routing groups: encoder m is modality m's per-step MLP (:class:`~dglnb.models.encoders.MLPEncoder`
applied at every time step, so its features keep the time axis); the fusion parameters are the
mixing blocks and the head. Zeroing modality m sets its slice of the cube to zero (eq. 12/14), so
DGL's unimodal loss for m is the mixer reading m alone. The encoders are the simple stand-ins of
:mod:`~dglnb.models.encoders`; CubeMLP's own feature extractors (e.g. BERT for text) are not used.
"""

from __future__ import annotations

from typing import Mapping

import torch
from torch import Tensor, nn

from ..data import DatasetInfo
from ..errors import ConfigError
from .classifier import MultimodalClassifier
from .encoders import MLPEncoder
from .fusion import FUSIONS

NUM_MODALITIES = 3
BLOCKS = 2
EXPANSION = 2


class AxisMLP(nn.Module):
    """``x + MLP(LayerNorm(x))`` with the MLP acting along ``axis`` of a (B, T, M, D) cube."""

    def __init__(self, size: int, channels: int, axis: int) -> None:
        super().__init__()
        self.axis = axis
        self.norm = nn.LayerNorm(channels)
        self.mlp = nn.Sequential(
            nn.Linear(size, EXPANSION * size), nn.GELU(), nn.Linear(EXPANSION * size, size)
        )

    def forward(self, x: Tensor) -> Tensor:
        if self.axis == x.dim() - 1:
            # x + MLP(LayerNorm(x)) along the channels: (B, T, M, D)
            return x + self.mlp(self.norm(x))
        # mixing along a short axis (time steps, modalities): that axis first and the rest flattened,
        # so each linear layer is one (size x size') @ (size x N) product rather than N tiny ones
        # h: (size, ...) with the mixed axis first
        h = self.norm(x).movedim(self.axis, 0)
        first, act, second = self.mlp
        # W1 h + b1: (EXPANSION size, N), N the product of the other axes
        flat = torch.addmm(first.bias[:, None], first.weight, h.reshape(h.shape[0], -1))
        # W2 GELU(.) + b2: (size, N)
        flat = torch.addmm(second.bias[:, None], second.weight, act(flat))
        return x + flat.reshape(h.shape).movedim(0, self.axis)


class CubeMixer(nn.Module):
    """The fusion: {m: (B, T, D)} in the model's order -> logits (B, K) (see the module doc)."""

    def __init__(
        self,
        modalities: tuple[str, ...],
        steps: int,
        channels: int,
        num_classes: int,
        blocks: int = BLOCKS,
    ) -> None:
        super().__init__()
        self.modalities = modalities
        self.blocks = nn.Sequential(
            *(
                nn.Sequential(
                    AxisMLP(steps, channels, axis=1),
                    AxisMLP(len(modalities), channels, axis=2),
                    AxisMLP(channels, channels, axis=3),
                )
                for _ in range(blocks)
            )
        )
        self.norm = nn.LayerNorm(channels)
        self.head = nn.Linear(len(modalities) * channels, num_classes)

    def forward(self, feats: Mapping[str, Tensor]) -> Tensor:
        cube = torch.stack([feats[m] for m in self.modalities], dim=2)  # (B, T, M, D)
        # W flatten(mean_t LayerNorm(blocks(cube))) + b: (B, M D) -> (B, K)
        return self.head(self.norm(self.blocks(cube)).mean(dim=1).flatten(1))


class TimeMeanHead(nn.Module):
    """A linear head on the time-averaged sequence: for an encoder's (B, T, D) output (the ``unimodal``
    method) or its already averaged (B, D) :meth:`MixerClassifier.modality_feature` (MMPareto's heads)."""

    def __init__(self, channels: int, num_classes: int) -> None:
        super().__init__()
        self.linear = nn.Linear(channels, num_classes)

    def forward(self, x: Tensor) -> Tensor:
        return self.linear(x.mean(dim=1) if x.dim() == 3 else x)


@FUSIONS.register("mlp_mixer")
class MixerClassifier(MultimodalClassifier):
    """Per-step MLP encoders and the :class:`CubeMixer` fusion; three sequence modalities of equal length."""

    @classmethod
    def build(cls, info: DatasetInfo, width: int = 64, hidden: int = 128) -> MixerClassifier:
        """Encoders of ``hidden`` channels per step for ``info``'s three sequence modalities."""
        kinds = ", ".join(
            f"{m}: {info.kinds[m]} {info.shapes.get(m, '')}".rstrip() for m in info.modalities
        )
        steps = {
            info.shapes[m][0]
            for m in info.modalities
            if info.kinds[m] == "sequence" and m in info.shapes
        }
        if (
            len(info.modalities) != NUM_MODALITIES
            or len(steps) != 1
            or any(info.kinds[m] != "sequence" for m in info.modalities)
        ):
            raise ConfigError(
                f"mlp_mixer fusion mixes three sequence modalities of equal length, but dataset {info.name!r} has "
                f"{len(info.modalities)} modalities ({kinds}). What to do: use mlp_mixer with mosi, mosi_with_zero or "
                "synthetic_seq3, or a late fusion (concat, sum) here"
            )
        encoders = {m: MLPEncoder(info.shapes[m][-1], hidden) for m in info.modalities}
        return cls(
            encoders,
            CubeMixer(info.modalities, steps.pop(), hidden, info.num_classes),
            info.num_classes,
        )

    def encode_alone(self, batch: Mapping[str, Tensor], modality: str) -> Tensor:
        """The modality's encoder on its own sequence, averaged over time, (B, D)."""
        # (B, T, D) -> (B, D)
        return self.encoders[modality](batch[modality]).mean(dim=1)

    def modality_feature(self, feats: Mapping[str, Tensor], modality: str) -> Tensor:
        """The encoder's per-step features averaged over time, (B, D)."""
        # (B, T, D) -> (B, D)
        return feats[modality].mean(dim=1)

    def unimodal_head(self, modality: str) -> nn.Module:
        return TimeMeanHead(self.encoders[modality].out_dim, self.num_classes)
