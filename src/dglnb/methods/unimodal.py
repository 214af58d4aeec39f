"""``unimodal``: every modality trained as its own model, its encoder plus its own head (``model.unimodal_head``:
a linear layer for classification, a decoder for segmentation).

:meth:`Unimodal.setup` attaches the heads to the model as ``model.unimodal_heads`` (a ModuleDict),
so checkpoints and the optimizer include them; call it before building the optimizer and before
loading a checkpoint. The model's fusion module is left untouched and untrained. No parameter is
shared between modalities and gradients are clipped per modality, so modality m's training does not
depend on any other modality's input: each is exactly the unimodal model of eq. 7. Each encoder runs
on its own (``model.encoders[m](x_m)``), so for a fusion interleaved with the encoders (MMTM) the
unimodal model is the plain encoder, without the fusion's modules.
"""

from __future__ import annotations

from torch import Tensor, nn

from ..models import MultimodalClassifier, init_weights
from . import METHODS
from .base import Batch, Method


def add_unimodal_heads(model: MultimodalClassifier) -> None:
    """Attach a new, initialised head per modality as ``model.unimodal_heads`` (in the model's dtype and device)."""
    heads = nn.ModuleDict({m: model.unimodal_head(m) for m in model.modalities})
    init_weights(heads)
    model.add_module("unimodal_heads", heads.to(next(model.parameters())))


@METHODS.register("unimodal")
class Unimodal(Method):
    """sum_m loss(head_m(z_m), y), e.g. CE(W_m z_m + b_m, y): independent per-modality losses,
    encoders and heads only."""

    def setup(self, model: MultimodalClassifier) -> None:
        add_unimodal_heads(model)

    def _model_parameters(self, model: MultimodalClassifier, modality: str) -> list[nn.Parameter]:
        return model.encoder_parameters(modality) + list(
            model.unimodal_heads[modality].parameters()
        )

    def param_groups(self, model: MultimodalClassifier, lr: float) -> list[dict]:
        return [
            {
                "params": [p for m in model.modalities for p in self._model_parameters(model, m)],
                "lr": lr,
            }
        ]

    def clip_groups(self, model: MultimodalClassifier) -> dict[str, list[nn.Parameter]]:
        return {m: self._model_parameters(model, m) for m in model.modalities}

    def compute_gradients(self, model: MultimodalClassifier, batch: Batch) -> dict[str, Tensor]:
        # L^m = L_CE(h_m(z_m), y) for every modality m (eq. 7's unimodal model): a scalar each
        losses = {
            f"loss_{m}": model.loss(logits, batch["label"])
            for m, logits in self.predict(model, batch).items()
        }
        # sum_m L^m: encoder m and head h_m receive dL^m only
        sum(losses.values()).backward()
        return {name: loss.detach() for name, loss in losses.items()}

    def fused_heads(self, model: MultimodalClassifier) -> dict[str, tuple[str, ...]]:
        """None: no head of :meth:`predict` goes through ``model.fuse``."""
        return {}

    def predict(self, model: MultimodalClassifier, batch: Batch) -> dict[str, Tensor]:
        """Per-modality logits only: a unimodal model has no multimodal head."""
        # h_m(phi_m(theta_m, x_m)): (B, K) logits per modality
        return {m: model.unimodal_heads[m](model.encoders[m](batch[m])) for m in model.modalities}
