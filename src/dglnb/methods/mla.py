"""``mla``: Multimodal Learning with Alternating Unimodal Adaptation (Zhang et al., CVPR 2024).

Training alternates over the modalities, in the model's order, within every batch: for modality m,
``loss_m = CE(head(z_m), y)`` with one linear head shared by all modalities, backward, modify the
head's weight gradient, one optimizer step (encoder m and the head), clear the gradients; then the
next modality, whose loss already sees the head the previous step updated. The model's own fusion
module is not used (the head is attached by :meth:`MLA.setup`), so every encoder must give features
of the same size.

Gradient modification (the official ``utils.GSPlugin``): with r the batch mean of z_m, k = P r and
alpha_t = 0.1 ** (1 + batch_index / batches_per_epoch), the running matrix P (initially I) becomes
``P - k k^T / (alpha_t + r^T k)``, then ``grad_W <- grad_W P^T``; the very first step of a run is not
modified. This is the recursion of orthogonal weight modification (OWM, Zeng et al., 2019): after it,
``P r`` is small, so the step changes the head's response to the mean feature r very little.

Inference (test-time uncertainty-based fusion): ``multimodal = sum_m w_m head(z_m)``; modality m's
accuracy is that of ``head(z_m)``.

Switches where the paper and the official code (``main.py`` with ``--gs_flag``) differ:

* ``projection``: ``"owm"`` (default) the recursion above, the paper's gradient modification;
  ``"code"`` the official arithmetic as written: the denominator ``alpha_t + k r^T`` is a matrix (an
  outer product) dividing ``k k^T`` elementwise, and P is then divided by its Frobenius norm;
  ``"none"`` what the official training actually runs: GSPlugin only modifies a parameter named
  ``"module.weight"``, which a bare ``nn.Linear`` (named ``"weight"``) never matches, so no gradient is
  modified.
* ``fusion_weights``: ``"entropy"`` (default, the paper) w_m proportional to exp(max_n H_n - H_m) with
  H_m the entropy of softmax(head(z_m)) per sample; ``"entropy_batch"`` the official
  ``calculate_entropy``, which takes the softmax over the batch dimension and sums over the whole
  batch (one weight per modality per batch, so a sample's prediction depends on its batch);
  ``"fixed"`` the official ``--gs_flag`` default: ``fixed_weights`` (0.55, 0.45 for two modalities,
  as ``main(av_alpha=0.55)``; 0.35, 0.25, 0.4 for three, the ``--a/v/t_alpha`` defaults).

In the official loop the optimizer's ``zero_grad`` (torch 1.x) zeroes the audio gradients instead of
clearing them (they are deleted only at the end of a batch), so during the visual step the audio
encoder also takes a weight-decay and momentum step; here a modality's step moves only its encoder
and the head. The official CREMA-D recipe (SGD lr 1e-3, StepLR(70, 0.1), batch 64, 100 epochs)
matches the quick and full profiles; the DGL paper unified MLA's original 150 epochs / batch 16 to 100 / 64.
"""

from __future__ import annotations

from typing import Any, Iterable, Mapping, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..errors import ConfigError
from ..models import MultimodalClassifier, init_weights
from . import METHODS
from .base import Batch, Method

PROJECTIONS = ("owm", "code", "none")
FUSION_WEIGHTS = ("entropy", "entropy_batch", "fixed")
OFFICIAL_FIXED_WEIGHTS = {2: (0.55, 0.45), 3: (0.35, 0.25, 0.4)}


def owm_update(P: Tensor, r: Tensor, alpha: float, variant: str = "owm") -> Tensor:
    """The projector after seeing the mean feature ``r`` (shape (d,)): OWM's recursion, or the official code's."""
    # k = P r: (d,)
    k = P @ r
    if variant == "owm":
        # P - k k^T / (alpha + r^T k): (d, d)
        return P - torch.outer(k, k) / (alpha + r @ k)
    # the official code: k k^T / (alpha + k r^T) elementwise, then divided by its Frobenius norm
    updated = P - torch.outer(k, k) / (alpha + torch.outer(k, r))
    return updated / torch.linalg.matrix_norm(updated)


def entropy(logits: Tensor, dim: int) -> Tensor:
    """Entropy of softmax(logits) along ``dim``."""
    logp = F.log_softmax(logits, dim=dim)
    # H = -sum_k p_k log p_k
    return -(logp.exp() * logp).sum(dim=dim)


def entropy_weights(logits: Sequence[Tensor], per_sample: bool = True) -> Tensor:
    """Fusion weights w_m proportional to exp(max_n H_n - H_m) (rows: samples, or one row for the batch)."""
    if per_sample:
        h = torch.stack([entropy(z, dim=1) for z in logits], dim=1)  # (B, M)
    else:  # the official: softmax over the batch dimension, entropy summed over the whole batch
        h = torch.stack([entropy(z, dim=0).sum() for z in logits]).unsqueeze(0)  # (1, M)
    return torch.softmax(h.max(dim=1, keepdim=True).values - h, dim=1)  # exp(max - H) normalised


@METHODS.register("mla")
class MLA(Method):
    """Alternating unimodal steps through one shared head, with the head's gradient projected."""

    def __init__(
        self,
        projection: str = "owm",
        fusion_weights: str = "entropy",
        fixed_weights: Sequence[float] | None = None,
        **kw: Any,
    ) -> None:
        super().__init__(**kw)
        if projection not in PROJECTIONS:
            raise ValueError(
                f"projection must be one of {', '.join(PROJECTIONS)}, got {projection!r}"
            )
        if fusion_weights not in FUSION_WEIGHTS:
            raise ValueError(
                f"fusion_weights must be one of {', '.join(FUSION_WEIGHTS)}, got {fusion_weights!r}"
            )
        self.projection, self.fusion_weights = projection, fusion_weights
        self.fixed_weights = (
            None if fixed_weights is None else tuple(float(w) for w in fixed_weights)
        )
        self.projector: Tensor | None = None  # P, created at the first modified step
        self.steps = 0  # unimodal steps taken in the run (the official exp_count)
        self.batch_index = 0  # batches seen this epoch
        self.batches_per_epoch = 1

    def setup(self, model: MultimodalClassifier) -> None:
        if model.task != "classification":
            raise ConfigError(
                f"mla needs a classifier (one linear head shared by every modality's feature vector); "
                f"this model's task is {model.task}. What to do: use another method"
            )
        dims = {model.encoders[m].out_dim for m in model.modalities}
        if len(dims) != 1:
            raise ValueError(
                f"MLA shares one head across modalities, which needs equal feature sizes; got {dims}"
            )
        head = nn.Linear(dims.pop(), model.num_classes)
        init_weights(head)
        model.add_module("shared_head", head.to(next(model.parameters())))

    def param_groups(self, model: MultimodalClassifier, lr: float) -> list[dict]:
        params = [p for m in model.modalities for p in model.encoder_parameters(m)]
        return [{"params": params + list(model.shared_head.parameters()), "lr": lr}]

    def on_epoch_start(
        self,
        epoch: int,
        model: MultimodalClassifier,
        loaders: Mapping[str, Iterable],
        optimizer: torch.optim.Optimizer,
    ) -> None:
        self.batch_index = 0
        self.batches_per_epoch = max(len(loaders["train"]), 1)

    def modify_head_gradient(self, head: nn.Linear, z: Tensor) -> None:
        """Project the shared head's weight gradient (``grad_W <- grad_W P^T``) after updating P with z's mean."""
        if self.projection == "none" or self.steps == 0:
            return
        # alpha_t = 0.1^(1 + batch index / batches per epoch)
        alpha = 0.1 ** (1 + self.batch_index / self.batches_per_epoch)
        with torch.autocast(
            z.device.type, enabled=False
        ):  # P and the gradient in the head's precision
            # r = mean_i z_i: (d,)
            r = z.detach().to(head.weight.dtype).mean(dim=0)
            if self.projector is None:
                self.projector = torch.eye(len(r), dtype=r.dtype, device=r.device)
            self.projector = owm_update(self.projector, r, alpha, self.projection)
            # grad_W <- grad_W P^T: (K, d)
            head.weight.grad = head.weight.grad @ self.projector.T

    def train_step(
        self, model: MultimodalClassifier, batch: Batch, optimizer: torch.optim.Optimizer
    ) -> dict[str, float]:
        """One step per modality, in the model's order; returns each modality's loss."""
        losses = {}
        for m in model.modalities:
            optimizer.zero_grad(set_to_none=True)
            z = model.encode_alone(batch, m)
            # L^m = L_CE(W z_m + b, y), one shared head W, b
            loss = model.loss(model.shared_head(z), batch["label"])
            loss.backward()
            self.modify_head_gradient(model.shared_head, z)
            if self.grad_clip is not None:
                nn.utils.clip_grad_norm_(
                    model.encoder_parameters(m) + list(model.shared_head.parameters()),
                    self.grad_clip,
                )
            optimizer.step()
            self.steps += 1
            losses[f"loss_{m}"] = float(loss.detach())
        optimizer.zero_grad(set_to_none=True)
        self.batch_index += 1
        return losses

    def compute_gradients(self, model: MultimodalClassifier, batch: Batch) -> dict[str, Tensor]:
        raise NotImplementedError("MLA takes one optimizer step per modality: use train_step")

    def weights(self, logits: Sequence[Tensor]) -> Tensor:
        """Fusion weights, shape (B or 1, M)."""
        if self.fusion_weights == "fixed":
            fixed = self.fixed_weights or OFFICIAL_FIXED_WEIGHTS.get(len(logits))
            if fixed is None or len(fixed) != len(logits):
                raise ValueError(
                    f"fixed_weights needs one weight per modality ({len(logits)}), got {fixed}"
                )
            return torch.tensor([fixed], dtype=logits[0].dtype, device=logits[0].device)
        return entropy_weights(logits, per_sample=self.fusion_weights == "entropy")

    def fused_heads(self, model: MultimodalClassifier) -> dict[str, tuple[str, ...]]:
        """None: no head of :meth:`predict` goes through ``model.fuse``."""
        return {}

    def predict(self, model: MultimodalClassifier, batch: Batch) -> dict[str, Tensor]:
        heads = {m: model.shared_head(model.encode_alone(batch, m)) for m in model.modalities}
        w = self.weights(list(heads.values()))
        # sum_m w_m (W z_m + b): (B, K)
        fused = sum(w[:, i : i + 1] * logits for i, logits in enumerate(heads.values()))
        return {"multimodal": fused, **heads}

    def state_dict(self) -> dict:
        return {
            "projector": self.projector,
            "steps": self.steps,
            "batch_index": self.batch_index,
            "batches_per_epoch": self.batches_per_epoch,
        }

    def load_state_dict(self, state: dict) -> None:
        self.projector, self.steps = state["projector"], state["steps"]
        self.batch_index, self.batches_per_epoch = state["batch_index"], state["batches_per_epoch"]
