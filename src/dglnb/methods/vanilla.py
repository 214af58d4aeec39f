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
        # L^Multi = L_CE(W z^tau + b, y) with z^tau = phi_tau(theta_tau, z^1, ..., z^M) (eq. 1)
        loss = model.loss(model(batch), batch["label"])
        # dL^Multi/dtheta for every theta: the encoders' theta_m and the fusion's theta_tau, W, b
        loss.backward()
        return {"loss_multi": loss.detach()}
