"""Tiny float64 models and batches shared by the model, routing and method tests."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from dglnb.data import DatasetInfo
from dglnb.metrics import IGNORE_INDEX
from dglnb.models import MultimodalClassifier, build_model

VECTORS = DatasetInfo(
    "vectors",
    ("audio", "visual"),
    {"audio": "vector", "visual": "vector"},
    5,
    shapes={"audio": (6,), "visual": (4,)},
)
AUDIO_VISUAL = DatasetInfo(
    "av",
    ("audio", "visual"),
    {"audio": "spectrogram", "visual": "frames"},
    3,
    shapes={"audio": (1, 32, 32), "visual": (3, 2, 32, 32)},
)
# Smaller images, for the fusions that run between the ResNet stages (MMTM): 16x16 is 1x1 after layer3.
SMALL_AUDIO_VISUAL = DatasetInfo(
    "av_small",
    ("audio", "visual"),
    {"audio": "spectrogram", "visual": "frames"},
    3,
    shapes={"audio": (1, 16, 16), "visual": (3, 2, 16, 16)},
)
# Three sequences of equal length, for the MLP-Mixer fusion.
SEQUENCES3 = DatasetInfo(
    "seq3",
    ("audio", "visual", "text"),
    {m: "sequence" for m in ("audio", "visual", "text")},
    4,
    shapes={"audio": (5, 3), "visual": (5, 4), "text": (5, 6)},
)
THREE = DatasetInfo(
    "three",
    ("audio", "visual", "text"),
    {"audio": "vector", "visual": "sequence", "text": "vector"},
    4,
    shapes={"audio": (6,), "visual": (3, 5), "text": (7,)},
)
RGBD = DatasetInfo(
    "tiny_rgbd",
    ("rgb", "depth"),
    {"rgb": "image", "depth": "image"},
    5,
    task="segmentation",
    shapes={"rgb": (3, 32, 32), "depth": (1, 32, 32)},
)

# (info, fusion) pairs; film and gated take two modalities.
CONFIGS = [(VECTORS, f) for f in ("concat", "sum", "film", "gated")] + [
    (AUDIO_VISUAL, "concat"),
    (AUDIO_VISUAL, "film"),
    (THREE, "concat"),
    (THREE, "sum"),
]
CONFIG_IDS = [f"{info.name}-{fusion}" for info, fusion in CONFIGS]


def tiny_model(info: DatasetInfo, fusion: str | None = None, seed: int = 0) -> MultimodalClassifier:
    """A narrow float64 model whose every parameter (biases included) is random, so no gradient is zero by
    accident; ``fusion`` None: the segmenter for a segmentation dataset, else concat."""
    torch.manual_seed(seed)
    fusion = fusion or ("esanet" if info.task == "segmentation" else "concat")
    model = build_model(info, fusion, width=4, hidden=8).double()
    with torch.no_grad():
        for p in model.parameters():
            p.normal_(0.0, 0.5)
    return model


def make_batch(info: DatasetInfo, n: int = 6, seed: int = 1) -> dict:
    """Random inputs and labels; for segmentation (n, H, W) labels with about a fifth of the pixels unlabelled."""
    g = torch.Generator().manual_seed(seed)
    batch: dict = {
        m: torch.randn(n, *info.shapes[m], generator=g, dtype=torch.float64)
        for m in info.modalities
    }
    if info.task == "segmentation":
        size = (n, *info.shapes[info.modalities[0]][1:])
        label = torch.randint(info.num_classes, size, generator=g)
        batch["label"] = label.masked_fill(torch.rand(size, generator=g) < 0.2, IGNORE_INDEX)
    else:
        batch["label"] = torch.randint(info.num_classes, (n,), generator=g)
    batch["id"] = [str(i) for i in range(n)]
    return batch


def grads(loss: Tensor, params: list[nn.Parameter]) -> list[Tensor]:
    """d loss / d params by autograd, zeros where a parameter does not affect the loss."""
    out = torch.autograd.grad(loss, params, retain_graph=True, allow_unused=True)
    return [torch.zeros_like(p) if g is None else g for p, g in zip(params, out)]


def one_step(method: str, model: MultimodalClassifier, batch: dict, alpha: float = 2.0):
    """One SGD step of ``method`` on ``model``: returns the step's losses and the model before it."""
    import copy

    algo = with_alpha(method, alpha)
    algo.setup(model)
    before = copy.deepcopy(model)
    return algo.train_step(model, batch, torch.optim.SGD(algo.param_groups(model, 0.1))), before


def with_alpha(method: str, alpha: float, **kw):
    """The method ``method``, given ``alpha`` if it takes one (the DGL family, vanilla_lr)."""
    from dglnb.methods import METHODS

    kind = METHODS.get(method)
    return kind(**({"alpha": alpha} if kind.takes("alpha") else {}), **kw)
