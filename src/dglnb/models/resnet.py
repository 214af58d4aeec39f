"""ResNet18 (He et al., 2016) as the paper's encoders use it: BasicBlock [2, 2, 2, 2], trained from scratch.

Two knobs beyond torchvision's ``resnet18``: ``in_channels`` (1 for a spectrogram, 3 for RGB) and
``width``, the channel count of the stem (64 in the paper; 8 or 16 keep CPU profiles fast). Stages
have ``width * (1, 2, 4, 8)`` channels, so the feature map has ``8 * width`` channels (512 at width 64).

Submodule names follow torchvision (``conv1``, ``bn1``, ``layer1.0.conv1``, ``layer1.0.downsample.0``,
...), so a torchvision ResNet18 state dict without ``fc.*`` loads with ``strict=True`` at width 64
(its ``conv1`` must match ``in_channels``). There is no ``fc``: the module returns the last feature map
and the encoders pool it; :meth:`ResNet18.stages` gives every stage's map (for segmentation).
"""

from __future__ import annotations

from torch import Tensor, nn

BLOCKS_PER_STAGE = (2, 2, 2, 2)


class BasicBlock(nn.Module):
    """Two 3x3 convolutions with a residual connection (1x1 projection when the shape changes)."""

    def __init__(self, in_planes: int, planes: int, stride: int = 1) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_planes, planes, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(planes, planes, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample: nn.Module | None = None
        if stride != 1 or in_planes != planes:
            self.downsample = nn.Sequential(
                nn.Conv2d(in_planes, planes, 1, stride=stride, bias=False), nn.BatchNorm2d(planes)
            )

    def forward(self, x: Tensor) -> Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        # out = relu(BN(conv3x3(x))), then BN(conv3x3(out)): (B, planes, H/stride, W/stride)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        # relu(F(x) + shortcut(x))
        return self.relu(out + identity)


class ResNet18(nn.Module):
    """ResNet18 trunk: (B, in_channels, H, W) -> feature map (B, 8 * width, H/32, W/32)."""

    def __init__(self, in_channels: int = 3, width: int = 64) -> None:
        super().__init__()
        if in_channels < 1 or width < 1:
            raise ValueError(
                f"in_channels and width must be positive, got {in_channels} and {width}"
            )
        self.out_dim = 8 * width
        self.stage_channels = tuple(width * 2**stage for stage in range(len(BLOCKS_PER_STAGE)))
        self.conv1 = nn.Conv2d(in_channels, width, 7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, stride=2, padding=1)
        planes = width
        for stage, (blocks, out_planes) in enumerate(zip(BLOCKS_PER_STAGE, self.stage_channels)):
            stride = 1 if stage == 0 else 2
            layers = [BasicBlock(planes, out_planes, stride)]
            layers += [BasicBlock(out_planes, out_planes) for _ in range(blocks - 1)]
            self.add_module(f"layer{stage + 1}", nn.Sequential(*layers))
            planes = out_planes

    @property
    def layers(self) -> tuple[nn.Sequential, ...]:
        """The four stages layer1..layer4 (for models that act between stages, e.g. MMTM)."""
        return (self.layer1, self.layer2, self.layer3, self.layer4)

    def stem(self, x: Tensor) -> Tensor:
        """conv1, bn1, ReLU and max-pool: the input at stride 4, before layer1."""
        # 7x7 conv (stride 2), BN, ReLU, 3x3 max-pool (stride 2): (B, width, H/4, W/4)
        return self.maxpool(self.relu(self.bn1(self.conv1(x))))

    def stages(self, x: Tensor) -> list[Tensor]:
        """The outputs of layer1..layer4: ``width * (1, 2, 4, 8)`` channels at strides 4, 8, 16, 32."""
        x = self.stem(x)
        outputs = []
        for stage in self.layers:
            x = stage(x)
            outputs.append(x)
        return outputs

    def forward(self, x: Tensor) -> Tensor:
        return self.stages(x)[-1]
