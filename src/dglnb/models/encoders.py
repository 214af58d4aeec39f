"""One encoder per input kind (``DatasetInfo.kinds``); each maps a batch to (B, out_dim) features.

=============  ==================  =====================================================================
kind           input               encoder
=============  ==================  =====================================================================
spectrogram    (B, 1, F, T)        ResNet18 with 1 input channel, global average pool
image          (B, C, H, W)        ResNet18 with C input channels, global average pool
frames         (B, 3, T, H, W)     ResNet18 on every frame (time folded into the batch), features
                                   averaged over time and space (the official code's 3-D pool)
vector         (B, d)              MLP d -> hidden -> hidden, ReLU after each layer
sequence       (B, T, d)           the same MLP on the mean over time (a deliberately simple stand-in
                                   for a temporal model; aligned MOSI features are averaged this way)
=============  ==================  =====================================================================

All features are non-negative (ReLU last), as the ResNet's pooled features are.
"""

from __future__ import annotations

from torch import Tensor, nn

from .resnet import ResNet18

KINDS = ("spectrogram", "image", "frames", "vector", "sequence")


class ConvEncoder(nn.Module):
    """ResNet18 + global average pool: (B, C, H, W) -> (B, 8 * width)."""

    def __init__(self, in_channels: int, width: int = 64) -> None:
        super().__init__()
        self.backbone = ResNet18(in_channels, width)
        self.out_dim = self.backbone.out_dim

    def forward(self, x: Tensor) -> Tensor:
        # z = mean_{h,w} ResNet18(x): (B, 8 width, H/32, W/32) -> (B, 8 width)
        return self.backbone(x).mean(dim=(2, 3))


class FramesEncoder(ConvEncoder):
    """ResNet18 per frame, mean over frames and space: (B, C, T, H, W) -> (B, 8 * width)."""

    def forward(self, x: Tensor) -> Tensor:
        b, c, t, h, w = x.shape
        # frames into the batch: (B T, C, H, W) -> maps (B T, 8 width, H/32, W/32)
        maps = self.backbone(x.transpose(1, 2).reshape(b * t, c, h, w))
        # z = mean over frames and space: (B, 8 width)
        return maps.view(b, t, *maps.shape[1:]).mean(dim=(1, 3, 4))


class MLPEncoder(nn.Module):
    """Two-layer MLP with ReLU: (B, d) -> (B, hidden)."""

    def __init__(self, in_dim: int, hidden: int = 128) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(in_dim, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU()
        )
        self.out_dim = hidden

    def forward(self, x: Tensor) -> Tensor:
        # z = relu(W2 relu(W1 x + b1) + b2): (B, d) -> (B, hidden)
        return self.net(x)


class SequenceEncoder(MLPEncoder):
    """The MLP on the time-averaged sequence: (B, T, d) -> (B, hidden)."""

    def forward(self, x: Tensor) -> Tensor:
        # z = MLP(mean_t x_t): (B, T, d) -> (B, d) -> (B, hidden)
        return self.net(x.mean(dim=1))


def build_encoder(
    kind: str, shape: tuple[int, ...] | None = None, width: int = 64, hidden: int = 128
) -> nn.Module:
    """The encoder for one modality of ``kind``; ``shape`` is the per-sample shape (no batch dim).

    ``shape`` is required for ``vector`` and ``sequence`` (its last entry is d); for the image kinds it
    gives the channel count (default 1 for a spectrogram, 3 otherwise).
    """
    if kind in ("spectrogram", "image", "frames"):
        channels = shape[0] if shape else (1 if kind == "spectrogram" else 3)
        return (FramesEncoder if kind == "frames" else ConvEncoder)(channels, width)
    if kind in ("vector", "sequence"):
        if not shape:
            raise ValueError(
                f"a {kind!r} encoder needs the per-sample shape to know its input size"
            )
        return (SequenceEncoder if kind == "sequence" else MLPEncoder)(shape[-1], hidden)
    raise ValueError(f"unknown input kind {kind!r}; valid kinds: {', '.join(KINDS)}")
