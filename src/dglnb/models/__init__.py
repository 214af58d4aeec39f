"""Models: encoders by input kind, fusions by name, and the classifier that joins them.

``build_model(info, fusion="concat")`` gives a
:class:`~dglnb.models.classifier.MultimodalClassifier` for a dataset, or for a segmentation dataset an
:class:`~dglnb.models.segmentation.RGBDSegmenter` (same interface; its fusion is fixed). A late fusion
(:mod:`.fusion`) is a module on the encoders' features; a fusion that needs its own encoders or runs
between their layers (:mod:`.mmtm`, :mod:`.mixer`) registers a ``MultimodalClassifier`` subclass that
builds the whole model with ``cls.build(info, width=..., hidden=...)``.
"""

from __future__ import annotations

from torch import nn

from ..data import DatasetInfo
from ..errors import ConfigError
from . import mixer, mmtm  # noqa: F401  (register the model-level fusions)
from .classifier import MultimodalClassifier
from .encoders import build_encoder
from .fusion import FUSIONS
from .norm import frozen_running_stats
from .segmentation import RGBDSegmenter

__all__ = [
    "FUSIONS",
    "MultimodalClassifier",
    "RGBDSegmenter",
    "build_model",
    "frozen_running_stats",
    "init_weights",
]


def init_weights(module: nn.Module) -> None:
    """Initialise every layer in ``module`` as the official code does.

    Convolutions: Kaiming normal (fan_out, ReLU); batch norm: weight 1, bias 0; linear layers:
    Xavier normal, bias 0.
    """
    for layer in module.modules():
        if isinstance(layer, nn.Conv2d):
            nn.init.kaiming_normal_(layer.weight, mode="fan_out", nonlinearity="relu")
        elif isinstance(layer, nn.BatchNorm2d):
            nn.init.ones_(layer.weight)
            nn.init.zeros_(layer.bias)
        elif isinstance(layer, nn.Linear):
            nn.init.xavier_normal_(layer.weight)
            nn.init.zeros_(layer.bias)


def build_model(
    info: DatasetInfo, fusion: str = "concat", width: int = 64, hidden: int = 128
) -> MultimodalClassifier:
    """Encoders for ``info.modalities`` (by ``info.kinds``), then ``fusion`` with its head, initialised;
    for a segmentation dataset the ESANet-style :class:`~dglnb.models.segmentation.RGBDSegmenter`
    (built by :meth:`~dglnb.models.segmentation.RGBDSegmenter.build`).

    ``width`` is the ResNet18 stem width (64 as in the paper), ``hidden`` the MLP encoders' size.
    """
    fusion_cls = FUSIONS.get(fusion)
    if info.task == "segmentation" and not (
        isinstance(fusion_cls, type) and issubclass(fusion_cls, RGBDSegmenter)
    ):
        raise ConfigError(
            f"dataset {info.name!r} is segmented by the ESANet-style segmenter, not fusion {fusion!r}. "
            "What to do: use fusion esanet (ESANet's normalised skips) or esanet_raw_skips"
        )
    if isinstance(fusion_cls, type) and issubclass(fusion_cls, MultimodalClassifier):
        model = fusion_cls.build(info, width=width, hidden=hidden)
    else:
        encoders = {
            m: build_encoder(info.kinds[m], info.shapes.get(m), width=width, hidden=hidden)
            for m in info.modalities
        }
        model = MultimodalClassifier(
            encoders,
            fusion_cls({m: e.out_dim for m, e in encoders.items()}, info.num_classes),
            info.num_classes,
        )
    init_weights(model)
    return model
