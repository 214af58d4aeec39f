"""``vanilla``: joint training of encoders and fusion with the multimodal cross-entropy (eq. 1)."""

from __future__ import annotations

from torch import Tensor

from ..models import MultimodalClassifier
from . import METHODS
from .base import Batch, Method


@METHODS.register("vanilla")
class Vanilla(Method):
    """Every parameter receives the gradient of L^Multi."""

    def compute_gradients(self, model: MultimodalClassifier, batch: Batch) -> dict[str, Tensor]:
        loss = model.loss(model(batch), batch["label"])
        loss.backward()
        return {"loss_multi": loss.detach()}
