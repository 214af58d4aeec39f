"""The interface every training method implements; the engine owns the loop around it.

A batch is a dict: one float tensor per modality, ``"label"`` (long tensor) and ``"id"`` (list of str).
A subclass usually writes only :meth:`Method.compute_gradients`; the base class wraps it into one
optimisation step (zero the gradients, compute them, optionally clip, step).
"""

from __future__ import annotations

import inspect
from typing import Any, Iterable, Mapping

import torch
from torch import Tensor, nn

from ..models import MultimodalClassifier

Batch = Mapping[str, Any]


class Method:
    """Joint-training defaults; ``alpha`` weights unimodal terms in the methods that have them."""

    def __init__(self, alpha: float = 4.0, grad_clip: float | None = None, **kw: Any) -> None:
        if kw:
            raise TypeError(f"{type(self).__name__} got unknown hyperparameters: {', '.join(sorted(kw))}; "
                            f"valid: {', '.join(type(self).options())}")
        if alpha < 0:
            raise ValueError(f"alpha must be >= 0, got {alpha}")
        if grad_clip is not None and grad_clip <= 0:
            raise ValueError(f"grad_clip must be positive or None, got {grad_clip}")
        self.alpha = alpha
        self.grad_clip = grad_clip

    @classmethod
    def options(cls) -> list[str]:
        """The hyperparameters the constructor takes (its own and every base class's), sorted."""
        names = {name for klass in cls.__mro__ if "__init__" in vars(klass) and klass is not object
                 for name, p in inspect.signature(klass.__init__).parameters.items()
                 if name != "self" and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}
        return sorted(names)

    def setup(self, model: MultimodalClassifier) -> None:
        """Attach extra modules to ``model`` before the optimizer is built (none by default)."""

    def param_groups(self, model: MultimodalClassifier, lr: float) -> list[dict]:
        """Optimizer parameter groups; by default one group with every parameter at ``lr``."""
        return [{"params": list(model.parameters()), "lr": lr}]

    def compute_gradients(self, model: MultimodalClassifier, batch: Batch) -> dict[str, Tensor]:
        """Fill ``.grad`` of the parameters for one batch; return the losses (detached)."""
        raise NotImplementedError

    def clip_groups(self, model: MultimodalClassifier) -> list[list[nn.Parameter]]:
        """Parameter sets whose gradient norms are clipped separately (all parameters together by default)."""
        return [list(model.parameters())]

    def train_step(
        self, model: MultimodalClassifier, batch: Batch, optimizer: torch.optim.Optimizer
    ) -> dict[str, float]:
        """One optimisation step on ``batch``; returns the losses as floats."""
        optimizer.zero_grad(set_to_none=True)
        losses = self.compute_gradients(model, batch)
        if self.grad_clip is not None:
            for params in self.clip_groups(model):
                nn.utils.clip_grad_norm_(params, self.grad_clip)
        optimizer.step()
        return {name: float(loss) for name, loss in losses.items()}

    def predict(self, model: MultimodalClassifier, batch: Batch) -> dict[str, Tensor]:
        """Logits per head: ``"multimodal"`` and, per modality, the same fusion with the others zeroed."""
        feats = model.encode(batch)
        return {"multimodal": model.fuse(feats), **{m: model.fuse_alone(feats, m) for m in model.modalities}}

    def on_epoch_start(
        self, epoch: int, model: MultimodalClassifier, train_loader: Iterable, val_loader: Iterable | None = None
    ) -> None:
        """Hook for methods with per-epoch state (none by default), called in train mode before the
        epoch's first step; ``val_loader`` (the validation split) serves methods that diagnose
        generalisation from it (D&R). A hook that switches the model to eval mode switches it back."""

    def state_dict(self) -> dict:
        """The method's own state, for resuming (none by default)."""
        return {}

    def load_state_dict(self, state: dict) -> None:
        if state:
            raise ValueError(f"{type(self).__name__} has no state to load, got keys {sorted(state)}")

