"""RGB-D semantic segmentation in the style of ESANet (Seichter et al., ICRA 2021), the paper's Table 5 model.

::

    rgb   -> ResNet18 stages r1 r2 r3 r4 ---+
                                            |  f_s = SE_rgb,s(r_s) + SE_depth,s(d_s)   (s = 1..4)
    depth -> ResNet18 stages d1 d2 d3 d4 ---+
    f4 -> context module (pyramid pooling, bins 1 and 5) -> decoder: 3 x [3x3 conv-BN-ReLU, x2 upsample,
          + skip f3 / f2 / f1] -> 3x3 conv to K classes -> x4 bilinear upsample -> (B, K, H, W) logits

The routing groups are those of :class:`~dglnb.models.classifier.MultimodalClassifier` (eq. 9-14):
encoder m is modality m's ResNet18; the fusion parameters are the squeeze-and-excitation blocks, the
context module and the decoder (:class:`RGBDFusionDecoder`). A modality's features are its four stage maps
(:class:`StageFeatures`); zeroing a modality zeroes all four, so ``fuse_alone(feats, "rgb")`` is the
same network with the depth input dropped at every scale (SE of zeros is zero).

Deviation from ESANet, to keep the encoders independent: ESANet adds each fused map f_s back into
the RGB stream, so RGB stage s+1 reads depth features and the RGB encoder depends on the depth
encoder. Here each encoder computes its stages from its own input only; the fused maps feed only the
decoder's skips and the context module. Each encoder therefore runs once per step, and its gradient
under DGL comes from its own unimodal loss alone. Also simpler than ESANet: decoder channels equal
the encoder stages' (4, 2, 1) x width so skips are added without projection; one 3x3 conv per decoder
stage instead of ESANet's non-bottleneck-1D blocks; bilinear instead of learned upsampling; no
auxiliary side outputs; no fusion after the stem. H and W must be multiples of 4 (the stride-4
stage is upsampled by 4 to the input size).
"""

from __future__ import annotations

from typing import ClassVar, Mapping, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..data import DatasetInfo
from ..errors import ConfigError
from ..metrics import IGNORE_INDEX
from .classifier import MultimodalClassifier
from .fusion import FUSIONS
from .resnet import ResNet18

CONTEXT_BINS = (1, 5)  # ESANet's default pyramid pooling


class StageFeatures(tuple):
    """One modality's stage maps (stride 4, 8, 16, 32); ``detach`` as for a tensor, so methods written
    for one tensor per modality (DGL's ``z.detach()``) work unchanged."""

    def detach(self) -> StageFeatures:
        return StageFeatures(z.detach() for z in self)


class StageEncoder(nn.Module):
    """ResNet18 returning its four stage maps: (B, C, H, W) -> :class:`StageFeatures`; H, W multiples of 4."""

    def __init__(self, in_channels: int, width: int = 64) -> None:
        super().__init__()
        self.backbone = ResNet18(in_channels, width)
        self.stage_channels = self.backbone.stage_channels

    def forward(self, x: Tensor) -> StageFeatures:
        if x.shape[-2] % 4 or x.shape[-1] % 4:
            raise ValueError(
                f"image height and width must be multiples of 4, got {tuple(x.shape[-2:])}"
            )
        return StageFeatures(self.backbone.stages(x))


def conv_bn_relu(in_channels: int, out_channels: int, kernel_size: int = 3) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, kernel_size, padding=kernel_size // 2, bias=False),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(inplace=True),
    )


class SqueezeExcite(nn.Module):
    """Channel reweighting ``x * sigmoid(W2 relu(W1 mean_hw(x)))`` (reduction 16, as ESANet's fusion)."""

    def __init__(self, channels: int, reduction: int = 16) -> None:
        super().__init__()
        hidden = max(channels // reduction, 1)
        self.gate = nn.Sequential(
            nn.AdaptiveAvgPool2d(1),
            nn.Conv2d(channels, hidden, 1),
            nn.ReLU(inplace=True),
            nn.Conv2d(hidden, channels, 1),
            nn.Sigmoid(),
        )

    def forward(self, x: Tensor) -> Tensor:
        # x * sigmoid(W2 relu(W1 mean_hw(x))): (B, C, H, W)
        return x * self.gate(x)


class PyramidPooling(nn.Module):
    """Context module: the map concatenated with its average pools at ``bins`` (1x1 conv + ReLU, upsampled
    back), then a 3x3 conv-BN-ReLU to the input's channels. Pooled branches have no batch norm, so a
    1x1 pool works for any batch size."""

    def __init__(self, channels: int, bins: Sequence[int] = CONTEXT_BINS) -> None:
        super().__init__()
        reduced = max(channels // len(bins), 1)
        self.branches = nn.ModuleList(
            nn.Sequential(
                nn.AdaptiveAvgPool2d(b), nn.Conv2d(channels, reduced, 1), nn.ReLU(inplace=True)
            )
            for b in bins
        )
        self.out = conv_bn_relu(channels + reduced * len(bins), channels)

    def forward(self, x: Tensor) -> Tensor:
        size = x.shape[2:]
        # per bin: avg-pool, 1x1 conv + ReLU, upsampled back: (B, C / len(bins), H, W) each
        pooled = [
            F.interpolate(branch(x), size=size, mode="bilinear", align_corners=False)
            for branch in self.branches
        ]
        # conv-BN-ReLU of [x; pooled...]: (B, C, H, W)
        return self.out(torch.cat([x, *pooled], dim=1))


SKIPS = ("normalised", "raw")


class DecoderStage(nn.Module):
    """3x3 conv-BN-ReLU, upsample to the skip's size, add the skip (the fused encoder map of that scale):
    through a 1x1 conv-BN-ReLU, as ESANet's skip layers (``skips="normalised"``), or as it is (``"raw"``)."""

    def __init__(self, in_channels: int, out_channels: int, skips: str = "normalised") -> None:
        super().__init__()
        if skips not in SKIPS:
            raise ValueError(f"unknown skips {skips!r}; use one of: {', '.join(SKIPS)}")
        self.conv = conv_bn_relu(in_channels, out_channels)
        self.skip = (
            conv_bn_relu(out_channels, out_channels, kernel_size=1)
            if skips == "normalised"
            else nn.Identity()
        )

    def forward(self, x: Tensor, skip: Tensor) -> Tensor:
        # conv-BN-ReLU, upsampled to the skip's size: (B, C_out, H_skip, W_skip)
        x = F.interpolate(self.conv(x), size=skip.shape[2:], mode="bilinear", align_corners=False)
        # x + skip (through a 1x1 conv-BN-ReLU when normalised)
        return x + self.skip(skip)


class RGBDFusionDecoder(nn.Module):
    """The fusion parameters: per-scale SE-add fusion of the modalities, context module, decoder, classifier.

    ``{m: StageFeatures}`` -> logits (B, K, 4 h1, 4 w1), where h1 x w1 is the stride-4 stage's size.
    Built for any number of modalities (one, for the ``unimodal`` baseline's own decoder).
    """

    def __init__(
        self,
        modalities: Sequence[str],
        stage_channels: Sequence[int],
        num_classes: int,
        skips: str = "normalised",
    ) -> None:
        super().__init__()
        self.modalities = tuple(modalities)
        self.se = nn.ModuleDict(
            {m: nn.ModuleList(SqueezeExcite(c) for c in stage_channels) for m in self.modalities}
        )
        self.context = PyramidPooling(stage_channels[-1])
        self.decoder = nn.ModuleList(
            DecoderStage(c_in, c_out, skips)
            for c_in, c_out in zip(stage_channels[:0:-1], stage_channels[-2::-1])
        )
        self.classifier = nn.Conv2d(stage_channels[0], num_classes, 3, padding=1)

    def forward(self, feats: Mapping[str, Sequence[Tensor]]) -> Tensor:
        # f_s = sum_m SE_{m,s}(z_{m,s}) per scale s: (B, C_s, H/4 / 2^s, W/4 / 2^s), s = 0..3
        fused = [
            sum(self.se[m][s](feats[m][s]) for m in self.modalities)
            for s in range(len(feats[self.modalities[0]]))
        ]
        # context module on the coarsest map: (B, 8 width, H/32, W/32)
        x = self.context(fused[-1])
        for stage, skip in zip(self.decoder, reversed(fused[:-1])):
            # up one scale, adding f_2, f_1, f_0 in turn
            x = stage(x, skip)
        # logits: 3x3 conv to K classes at stride 4, upsampled x4: (B, K, H, W)
        return F.interpolate(
            self.classifier(x), scale_factor=4, mode="bilinear", align_corners=False
        )


class UnimodalDecoder(nn.Module):
    """A decoder of its own for one modality's stage maps: the ``unimodal`` baseline's segmentation head."""

    def __init__(
        self,
        modality: str,
        stage_channels: Sequence[int],
        num_classes: int,
        skips: str = "normalised",
    ) -> None:
        super().__init__()
        self.modality = modality
        self.decoder = RGBDFusionDecoder((modality,), stage_channels, num_classes, skips)

    def forward(self, stages: Sequence[Tensor]) -> Tensor:
        return self.decoder({self.modality: stages})


@FUSIONS.register("esanet")
class RGBDSegmenter(MultimodalClassifier):
    """Per-pixel classifier with the routing interface of
    :class:`~dglnb.models.classifier.MultimodalClassifier` (see module doc).

    ``encode`` gives each modality's :class:`StageFeatures`, each encoder running once on its own input.
    Labels are (B, H, W) class indices, ``IGNORE_INDEX`` for unlabelled pixels. The decoder's skips
    pass through ESANet's 1x1 conv-BN-ReLU (``skips="normalised"``; fusion ``esanet``) or not
    (``"raw"``; fusion ``esanet_raw_skips``).
    """

    task = "segmentation"
    skips: ClassVar[str] = "normalised"

    @classmethod
    def build(cls, info: DatasetInfo, width: int = 64, hidden: int = 128) -> RGBDSegmenter:
        """A segmenter for ``info`` (image modalities; channels from ``info.shapes``), not yet initialised."""
        if info.task != "segmentation":
            raise ConfigError(
                f"the {cls.__name__} fusion segments RGB-D images, but dataset {info.name!r} is a "
                f"{info.task} dataset. What to do: use a classification fusion (concat, sum, ...)"
            )
        missing = [m for m in info.modalities if m not in info.shapes]
        if missing:
            raise ValueError(
                f"segmentation needs each modality's (C, H, W) shape in DatasetInfo.shapes; missing: {missing}"
            )
        return cls(
            {m: StageEncoder(info.shapes[m][0], width) for m in info.modalities}, info.num_classes
        )

    def __init__(self, encoders: Mapping[str, StageEncoder], num_classes: int) -> None:
        channels = {e.stage_channels for e in encoders.values()}
        if len(channels) != 1:
            raise ValueError(
                f"the encoders' stage channels must agree to be fused, got {sorted(channels)}"
            )
        (stage_channels,) = channels
        super().__init__(
            encoders,
            RGBDFusionDecoder(tuple(encoders), stage_channels, num_classes, self.skips),
            num_classes,
        )
        self.stage_channels = stage_channels

    def zero_features(self, z: StageFeatures) -> StageFeatures:
        """Modality dropout at every scale."""
        return StageFeatures(torch.zeros_like(s) for s in z)

    def loss(self, logits: Tensor, labels: Tensor) -> Tensor:
        """Pixel-wise cross-entropy averaged over the labelled pixels (``IGNORE_INDEX`` excluded)."""
        # mean over labelled pixels of -log softmax(logits)[y]: logits (B, K, H, W), y (B, H, W)
        return F.cross_entropy(logits, labels, ignore_index=IGNORE_INDEX)

    def unimodal_head(self, modality: str) -> nn.Module:
        """A decoder of its own for ``modality`` (the ``unimodal`` method's segmentation model)."""
        return UnimodalDecoder(modality, self.stage_channels, self.num_classes, self.skips)


@FUSIONS.register("esanet_raw_skips")
class RawSkipSegmenter(RGBDSegmenter):
    """The segmenter with the fused maps added into the decoder as they are (no 1x1 conv-BN-ReLU)."""

    skips = "raw"
