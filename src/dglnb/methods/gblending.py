"""``gblending``: online Gradient-Blending (Wang, Tran & Feiszli, CVPR 2020). No official code is
public; BalanceBenchmark's ``GBlending_trainer.py`` is the reference implementation read here.

The model is trained with a weighted sum of one cross-entropy per head,
``L = sum_k w_k CE(head_k(x), y)``, over the heads ``multimodal`` (the fusion) and each modality m
(the same fusion with the other modalities zeroed, as the DGL paper does for its comparisons; the
G-Blending paper gives each modality its own head). The weights are estimated at the start of
every ``super_epoch``-th epoch (epoch 0 included), from the current parameters:

* for each head k, a copy of the model is trained on that head's loss alone for ``super_epoch``
  whole epochs (a fresh optimizer of the run's kind and current settings, the run's gradient clip;
  a run's ``max_steps`` caps only its own steps), so the estimate costs about ``M + 1`` times the
  training it precedes;
* from the copy's train and validation losses at the start and end of that run,
  generalization ``G = L_val(start) - L_val(end)`` and overfitting ``O = L_val - L_train``,
  ``dO = O(end) - O(start)``, the paper's estimate ``w_k = G_k / dO_k^2``, normalised to sum 1
  (:func:`blending_weights`).

Before the first estimate the weights are equal. Each step logs ``loss_multi``, ``loss_<m>`` and ``weight_<head>``;
the weights are the method's state. Published ``super_epoch``: 10 (BalanceBenchmark's online mode;
no value is published for the DGL paper's runs).

Where the paper and BalanceBenchmark differ (``estimate``):

* ``"paper"`` (default): the losses of the copy at its start and end (the current parameters, and
  after ``super_epoch`` epochs), each evaluated in eval mode on the whole train and validation
  splits; a head whose validation loss rose (``G < 0``) gets weight 0, since a negative loss weight
  would ascend that loss (the paper leaves this case open).
* ``"code"``: BalanceBenchmark's: the start is after the copy's first epoch, the train loss is the
  mean of that epoch's step losses (BalanceBenchmark sums them, and sums the validation batch
  losses, so its ``O`` compares sums over different batch counts; here both are means), and
  ``w_k = |G_k| / dO_k^2``.

The DGL paper's Table 4 varies an ``alpha`` for G-Blending, which suggests its runs used fixed
unimodal weights; that fixed-weight form is ``joint_aux`` (``L^Multi + alpha * sum_m L^m``).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any, Iterable, Mapping

import torch
from torch import Tensor, nn

from ..data import to_device
from ..models import MultimodalClassifier
from . import METHODS
from .base import Batch, Method, scalar_logs

MULTIMODAL = "multimodal"
ESTIMATES = ("paper", "code")


@dataclass(frozen=True)
class LossCurve:
    """A head's train and validation losses at the start and the end of a super-epoch."""

    train_start: float
    train_end: float
    val_start: float
    val_end: float


def blending_weights(curves: Mapping[str, LossCurve], estimate: str = "paper") -> dict[str, float]:
    """w_k proportional to G_k / dO_k^2 (``"paper"``, negative G taken as 0) or ``|G_k| / dO_k^2``
    (``"code"``), normalised to sum 1; equal weights if every numerator is 0."""
    if estimate not in ESTIMATES:
        raise ValueError(f"unknown estimate {estimate!r}; valid: {', '.join(ESTIMATES)}")
    raw = {}
    for head, c in curves.items():
        # G_k = L_val(start) - L_val(end)
        gain = c.val_start - c.val_end
        # dO_k = O(end) - O(start), O = L_val - L_train
        overfit_change = (c.val_end - c.train_end) - (c.val_start - c.train_start)
        gain = max(gain, 0.0) if estimate == "paper" else abs(gain)
        # w_k proportional to G_k / dO_k^2
        raw[head] = gain / max(overfit_change**2, 1e-12)
    total = sum(raw.values())
    return {h: w / total for h, w in raw.items()} if total > 0 else {h: 1 / len(raw) for h in raw}


def head_logits(model: MultimodalClassifier, feats: Mapping[str, Tensor], head: str) -> Tensor:
    """The multimodal logits, or modality ``head``'s (the other modalities zeroed)."""
    return model.fuse(feats) if head == MULTIMODAL else model.fuse_alone(feats, head)


@torch.no_grad()
def mean_loss(model: MultimodalClassifier, head: str, batches: Iterable[Batch]) -> float:
    """The head's loss averaged over the samples of ``batches``, in eval mode."""
    model.eval()
    device = next(model.parameters()).device
    total, count = 0.0, 0
    for batch in batches:
        batch = to_device(batch, device)
        n = len(batch["label"])
        total += (
            float(model.loss(head_logits(model, model.encode(batch), head), batch["label"])) * n
        )
        count += n
    return total / count


def fresh_optimizer(
    optimizer: torch.optim.Optimizer, model: nn.Module, clone: nn.Module
) -> torch.optim.Optimizer:
    """An optimizer of ``optimizer``'s kind and group settings over ``clone``'s parameters, with no state."""
    position = {id(p): i for i, p in enumerate(model.parameters())}
    params = list(clone.parameters())
    groups = [
        dict(g, params=[params[position[id(p)]] for p in g["params"]])
        for g in optimizer.param_groups
    ]
    return type(optimizer)(groups)


@METHODS.register("gblending")
class GradientBlending(Method):
    """sum_k w_k CE_k over the multimodal and the zeroed unimodal heads; w_k re-estimated every super_epoch epochs."""

    PUBLISHED = {"*": dict(super_epoch=10)}

    def __init__(self, super_epoch: int | None = None, estimate: str = "paper", **kw: Any) -> None:
        super().__init__(**kw)
        self.set_published(super_epoch=super_epoch)
        if self.super_epoch < 1 or estimate not in ESTIMATES:
            raise ValueError(
                f"need super_epoch >= 1 and estimate in {ESTIMATES}; got {self.super_epoch}, {estimate!r}"
            )
        self.estimate = estimate
        self.weights: dict[str, float] | None = None

    def heads(self, model: MultimodalClassifier) -> list[str]:
        return [MULTIMODAL, *model.modalities]

    def train_epoch(
        self,
        model: MultimodalClassifier,
        head: str,
        loader: Iterable[Batch],
        optimizer: torch.optim.Optimizer,
    ) -> float:
        """One epoch on ``head``'s loss alone; the mean step loss."""
        model.train()
        device = next(model.parameters()).device
        losses = []
        for batch in loader:
            batch = to_device(batch, device)
            optimizer.zero_grad(set_to_none=True)
            loss = model.loss(head_logits(model, model.encode(batch), head), batch["label"])
            loss.backward()
            if self.grad_clip is not None:
                nn.utils.clip_grad_norm_(model.parameters(), self.grad_clip)
            optimizer.step()
            losses.append(float(loss.detach()))
        return sum(losses) / len(losses)

    def loss_curve(
        self,
        model: MultimodalClassifier,
        head: str,
        loaders: Mapping[str, Iterable],
        optimizer: torch.optim.Optimizer,
    ) -> LossCurve:
        """Train a copy of ``model`` on ``head`` for ``super_epoch`` epochs and read its losses (see ``estimate``)."""
        clone = copy.deepcopy(model)
        clone_optimizer = fresh_optimizer(optimizer, model, clone)
        if self.estimate == "paper":
            start = (
                mean_loss(clone, head, loaders["train_eval"]),
                mean_loss(clone, head, loaders["val"]),
            )
            for _ in range(self.super_epoch):
                self.train_epoch(clone, head, loaders["train"], clone_optimizer)
            end = (
                mean_loss(clone, head, loaders["train_eval"]),
                mean_loss(clone, head, loaders["val"]),
            )
        else:
            ends = []
            for epoch in range(self.super_epoch):
                train_loss = self.train_epoch(clone, head, loaders["train"], clone_optimizer)
                if epoch in (0, self.super_epoch - 1):
                    ends.append((train_loss, mean_loss(clone, head, loaders["val"])))
            start, end = ends[0], ends[-1]
        return LossCurve(train_start=start[0], train_end=end[0], val_start=start[1], val_end=end[1])

    def on_epoch_start(
        self,
        epoch: int,
        model: MultimodalClassifier,
        loaders: Mapping[str, Iterable],
        optimizer: torch.optim.Optimizer,
    ) -> None:
        if epoch % self.super_epoch == 0:
            curves = {
                head: self.loss_curve(model, head, loaders, optimizer) for head in self.heads(model)
            }
            self.weights = blending_weights(curves, self.estimate)

    def compute_gradients(self, model: MultimodalClassifier, batch: Batch) -> dict[str, Tensor]:
        heads = self.heads(model)
        weights = self.weights or {h: 1 / len(heads) for h in heads}
        feats = model.encode(batch)
        losses = {h: model.loss(head_logits(model, feats, h), batch["label"]) for h in heads}
        # L = sum_k w_k L_CE(head_k, y)
        sum(weights[h] * losses[h] for h in heads).backward()
        return {
            **{
                f"loss_{'multi' if h == MULTIMODAL else h}": loss.detach()
                for h, loss in losses.items()
            },
            **scalar_logs("weight", weights),
        }

    def state_dict(self) -> dict:
        return {"weights": self.weights}

    def load_state_dict(self, state: dict) -> None:
        self.weights = state["weights"]
