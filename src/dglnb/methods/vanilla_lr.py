"""``vanilla_lr``: vanilla training with the encoders' learning rate scaled by ``lr_factor``.

The control for DGL's larger encoder step: DGL sends alpha * dL^m/dtheta_m to each encoder, so
part of any gain could come from the step size alone. The default ``lr_factor`` is 1 + alpha.
"""

from __future__ import annotations

from typing import Any

from ..models import MultimodalClassifier
from . import METHODS
from .base import checked_alpha
from .vanilla import Vanilla


@METHODS.register("vanilla_lr")
class VanillaLR(Vanilla):
    """L^Multi to every parameter; encoders at ``lr * lr_factor``, fusion at ``lr``."""

    def __init__(self, alpha: float = 4.0, lr_factor: float | None = None, **kw: Any) -> None:
        super().__init__(**kw)
        self.alpha = checked_alpha(
            alpha
        )  # the DGL weight whose larger encoder step this controls for
        self.lr_factor = 1 + self.alpha if lr_factor is None else lr_factor
        if self.lr_factor <= 0:
            raise ValueError(f"lr_factor must be positive, got {self.lr_factor}")

    def param_groups(self, model: MultimodalClassifier, lr: float) -> list[dict]:
        # theta_m at lr * lr_factor (1 + alpha by default), theta_tau, W, b at lr
        encoders = [p for m in model.modalities for p in model.encoder_parameters(m)]
        return [
            {"params": encoders, "lr": lr * self.lr_factor},
            {"params": model.fusion_parameters(), "lr": lr},
        ]
