"""MMTM dense fusion (Joze et al., CVPR 2020): multimodal transfer modules between ResNet18 stages.

::

    audio  -> stem, layer1 -> layer2 -> MMTM -> layer3 -> MMTM -> layer4 -> MMTM -> pool --+
                                         |                 |                 |          W [z_a; z_v] + b
    visual -> stem, layer1 -> layer2 -> MMTM -> layer3 -> MMTM -> layer4 -> MMTM -> pool --+

A transfer module squeezes every stream's map by global average pooling (over time and space),
passes the joint squeeze through a bottleneck, and rescales each stream's channels by
``2 sigmoid(E_m)`` (Joze et al., eq. 3-5), so later stages of one stream read the other modality.

Routing groups (the interface of :class:`~dglnb.models.classifier.MultimodalClassifier`): encoder m
is modality m's whole ResNet18; the fusion parameters are the three transfer modules and the head. A modality's features
(``encode``) are its layer1 map, the part of its stream that reads only its own input (run once per
step). ``fuse`` runs layers 2-4 of every kept stream with the transfer modules between them; a
zeroed modality is zero at *every* transfer module and at the head, so its stream is not computed
and ``fuse_alone(feats, "audio")`` depends on the audio input alone. DGL (:mod:`dglnb.methods.dgl`)
then works unchanged: the unimodal losses reach encoder m's layers (all four stages) and the
multimodal loss, routed to the fusion parameters only, reaches the transfer modules and the head.

BatchNorm: a pass with any modality zeroed normalises with its batch's statistics but leaves the
running statistics alone, so they follow the multimodal pass only (the one evaluation uses).

Differences from the official ``MMTM_Net`` (see book/deviations.md): each stream has its own layers
(the official code's second stream reuses the first stream's layer3/layer4), our plain ResNet18
stems instead of SE-ResNet18, and the unimodal paths zero the other stream at every module (the
official code zeroes its layer2 map only, and never trains MMTM with DGL).
"""

from __future__ import annotations

import contextlib
from typing import Collection, Mapping

import torch
from torch import Tensor, nn

from ..data import DatasetInfo
from ..errors import ConfigError
from .classifier import MultimodalClassifier
from .encoders import ConvEncoder, build_encoder
from .fusion import FUSIONS
from .norm import frozen_running_stats

IMAGE_KINDS = ("spectrogram", "image", "frames")
TRANSFER_STAGES = (1, 2, 3)  # after layer2, layer3 and layer4 (0-based stage index)
RATIO = 4  # bottleneck 2 * (C_1 + ... + C_M) / (M * RATIO): C when two streams have C channels each


def fold(x: Tensor) -> Tensor:
    """(B, T, C, H, W) -> (B*T, C, H, W): frames into the batch, for the 2-D layers."""
    return x.flatten(0, 1)


def unfold(x: Tensor, frames: int) -> Tensor:
    """(B*T, C, H, W) -> (B, T, C, H, W)."""
    return x.view(-1, frames, *x.shape[1:])


def squeeze(x: Tensor) -> Tensor:
    """Global average pool of a stream map (B, T, C, H, W) over time and space: (B, C)."""
    return x.mean(dim=(1, 3, 4))


class TransferModule(nn.Module):
    """One MMTM: ``S_m = squeeze(A_m)``, ``Z = relu(W [S_1; ...; S_M] + b)``, ``A_m' = 2 sigmoid(W_m Z + b_m) * A_m``.

    ``forward`` takes the maps of the kept streams only; an absent (zeroed) stream's squeeze is zero.
    """

    def __init__(self, channels: Mapping[str, int], ratio: int = RATIO) -> None:
        super().__init__()
        self.channels = dict(channels)
        total = sum(self.channels.values())
        bottleneck = max(2 * total // (len(self.channels) * ratio), 1)
        self.squeeze = nn.Linear(total, bottleneck)
        self.excite = nn.ModuleDict({m: nn.Linear(bottleneck, c) for m, c in self.channels.items()})

    def forward(self, maps: Mapping[str, Tensor], batch_size: int) -> dict[str, Tensor]:
        like = next(iter(maps.values()))
        # S_m = mean_{t,h,w} A_m: (B, C_m), zeros for an absent stream
        squeezed = [
            squeeze(maps[m]) if m in maps else like.new_zeros(batch_size, c)
            for m, c in self.channels.items()
        ]
        # Z = relu(W [S_1; ...; S_M] + b): (B, sum_m C_m) -> (B, bottleneck)
        z = torch.relu(self.squeeze(torch.cat(squeezed, dim=1)))
        # A_m' = 2 sigmoid(W_m Z + b_m) * A_m, one gate per channel: (B, T, C_m, H, W)
        return {
            m: 2 * torch.sigmoid(self.excite[m](z))[:, None, :, None, None] * a
            for m, a in maps.items()
        }


class MMTMFusion(nn.Module):
    """The fusion parameters: a transfer module after each of layer2..layer4, and the linear head."""

    def __init__(self, stage_channels: Mapping[str, tuple[int, ...]], num_classes: int) -> None:
        super().__init__()
        self.transfers = nn.ModuleList(
            TransferModule({m: c[s] for m, c in stage_channels.items()}) for s in TRANSFER_STAGES
        )
        self.head = nn.Linear(sum(c[-1] for c in stage_channels.values()), num_classes)


@FUSIONS.register("mmtm")
class MMTMClassifier(MultimodalClassifier):
    """ResNet18 streams exchanging channel gates through MMTMs after stages 2-4, then a concat head (module doc)."""

    separable = False  # the streams' stages 2-4 (encoder parameters) run inside fuse()

    def __init__(self, encoders: Mapping[str, ConvEncoder], num_classes: int) -> None:
        stage_channels = {m: e.backbone.stage_channels for m, e in encoders.items()}
        super().__init__(encoders, MMTMFusion(stage_channels, num_classes), num_classes)

    @classmethod
    def build(cls, info: DatasetInfo, width: int = 64, hidden: int = 128) -> MMTMClassifier:
        """ResNet18 streams for ``info``'s modalities; every modality must be image-like."""
        wrong = {m: k for m, k in info.kinds.items() if k not in IMAGE_KINDS}
        if wrong:
            raise ConfigError(
                f"mmtm fusion needs convolutional feature maps ({', '.join(IMAGE_KINDS)} inputs), but dataset "
                f"{info.name!r} has {', '.join(f'{m}: {k}' for m, k in wrong.items())}. What to do: use mmtm with an "
                "audio-visual dataset (avdigits, cremad, kinetics_sounds, vggsound), or a late fusion (concat, "
                "sum, film, gated) here"
            )
        return cls(
            {
                m: build_encoder(info.kinds[m], info.shapes.get(m), width=width)
                for m in info.modalities
            },
            info.num_classes,
        )

    def encode(self, batch: Mapping[str, Tensor]) -> dict[str, Tensor]:
        """Each modality's layer1 map (B, T, C, H, W), T = 1 for a single image; the only part of a stream
        that reads its own input alone, so it runs once per step."""
        feats = {}
        for m in self.modalities:
            x = batch[m]
            frames = x.shape[2] if x.dim() == 5 else 1
            x = x.transpose(1, 2) if x.dim() == 5 else x.unsqueeze(1)  # (B, T, C, H, W)
            backbone = self.encoders[m].backbone
            # z_m = layer1(stem(x_m)): (B, T, width, H/4, W/4)
            feats[m] = unfold(backbone.layer1(backbone.stem(fold(x))), frames)
        return feats

    def streams(self, feats: Mapping[str, Tensor], kept: list[str]) -> dict[str, Tensor]:
        """The pooled last maps (B, 8 * width) of the ``kept`` streams, the others zero at every transfer module."""
        if not kept:
            return {}
        maps = {m: feats[m] for m in kept}
        batch_size = next(iter(feats.values())).shape[0]
        frozen = self.training and len(kept) < len(self.modalities)
        with frozen_running_stats(self.encoders) if frozen else contextlib.nullcontext():
            for stage, transfer in zip(TRANSFER_STAGES, self.fusion.transfers):
                # each kept stream's next stage, then the transfer module: (B, T, C_stage, H_s, W_s)
                maps = {
                    m: unfold(self.encoders[m].backbone.layers[stage](fold(a)), a.shape[1])
                    for m, a in maps.items()
                }
                maps = transfer(maps, batch_size)
        # pooled over time and space: (B, 8 width)
        return {m: squeeze(a) for m, a in maps.items()}

    def fuse(self, feats: Mapping[str, Tensor], zero: Collection[str] = ()) -> Tensor:
        """Logits, the modalities in ``zero`` zeroed at every transfer module and at the head."""
        pooled = self.streams(feats, self.kept_modalities(zero))
        like = next(iter(feats.values()))
        z = [
            pooled[m] if m in pooled else like.new_zeros(len(like), self.encoders[m].out_dim)
            for m in self.modalities
        ]
        # W [z_1; ...; z_M] + b, zeros for a zeroed stream: (B, K)
        return self.fusion.head(torch.cat(z, dim=1))

    def modality_feature(self, feats: Mapping[str, Tensor], modality: str) -> Tensor:
        """The modality's pooled stream with every other modality zeroed: what the head reads on its unimodal path."""
        return self.streams(feats, [modality])[modality]
