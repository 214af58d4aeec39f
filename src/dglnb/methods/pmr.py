"""``pmr``: Prototypical Modal Rebalance (Fan et al., CVPR 2023); official code
fanyunfeng-bit/Modal-Imbalance-PMR ``main_Prototype_grad.py``.

Prototypes: at the start of every epoch, per modality m and class c, the centroid of the modality's
features ``z_m`` (``model.modality_feature``: the encoder's output in late fusion, the pooled stream
with the other modalities zeroed in MMTM; model in eval mode, no gradient) over the first
``prototype_fraction`` of the epoch's training batches (at least one), blended with the previous
prototypes as
``p <- (1 - momentum) * centroid + momentum * p_old``. A class absent from those batches keeps its
previous prototype (zeros before the first); the code would divide by zero there.

One step: ``sim_m = -||z_m - p_{m,c}||`` (Euclidean, per class) is a non-parametric classifier;
``s_m = sum_i softmax(sim_m)[i, y_i]`` measures how well modality m already clusters. Every modality
whose ``s_m`` is below another's (with two: the slower one) gets the prototypical cross-entropy
``modulation_alpha * CE(sim_m, y)`` added to the multimodal cross-entropy, during epochs
``modulation_starts <= epoch <= modulation_ends``; the prototypes are constants, so this term
pulls only encoder m's features towards their class prototype. Each step logs ``loss_multi`` and
``loss_proto_<m>``. The prototypes are the method's state (saved with the checkpoint).

Published hyperparameters (the code's defaults; the same for every dataset): ``modulation_alpha``
1.0, ``momentum`` 0.2, ``prototype_fraction`` 0.1, modulation over epochs 0-100.

Differences to the sources (named here; the first is switchable):

* ``momentum_from``: the code replaces rather than blends on its first update after training starts
  (its test is ``epoch <= 0`` with the epoch just trained), so blending begins with the prototypes of
  epoch 2. Default 2 (the code); 1 blends from the first update after the initial prototypes.
* The paper also adds a prototype-based entropy regulariser on the dominant modality in early
  epochs; the official script has no such term, and neither has this (not implemented).
* For more than two modalities, the code (two only) is extended as "all but the most clustered".
"""

from __future__ import annotations

from typing import Any, Iterable, Mapping

import torch
import torch.nn.functional as F
from torch import Tensor

from ..data import to_device
from ..errors import ConfigError
from ..models import MultimodalClassifier
from . import METHODS
from .base import Batch, Method, true_class_probability


@torch.no_grad()
def class_centroids(
    model: MultimodalClassifier, batches: Iterable[Batch], num_classes: int
) -> tuple[dict[str, Tensor], Tensor]:
    """Per modality, the (K, d) sums of encoder features per class divided by the class counts
    (rows of absent classes are zero), and the (K,) counts; the model is left in its previous mode."""
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    sums: dict[str, Tensor] = {}
    counts = torch.zeros(num_classes, device=device)
    for batch in batches:
        batch = to_device(batch, device)
        onehot = F.one_hot(batch["label"], num_classes)
        feats = model.encode(batch)
        for m in model.modalities:
            z = model.modality_feature(feats, m)
            # one_hot(y)^T z_m: per-class sums of the features, (K, d)
            sums[m] = sums.get(m, 0) + onehot.to(z.dtype).T @ z
        counts += onehot.sum(dim=0)
    model.train(was_training)
    # centroids c_{m,k} = sums / counts: (K, d) per modality; counts (K,)
    return {m: s / counts.clamp_min(1)[:, None].to(s.dtype) for m, s in sums.items()}, counts


@METHODS.register("pmr")
class PMR(Method):
    """Multimodal CE + modulation_alpha * prototypical CE of every modality that clusters worse than another."""

    PUBLISHED = {
        "*": dict(
            modulation_alpha=1.0,
            momentum=0.2,
            prototype_fraction=0.1,
            modulation_starts=0,
            modulation_ends=100,
        ),
    }

    def __init__(
        self,
        modulation_alpha: float | None = None,
        momentum: float | None = None,
        prototype_fraction: float | None = None,
        modulation_starts: int | None = None,
        modulation_ends: int | None = None,
        momentum_from: int = 2,
        **kw: Any,
    ) -> None:
        super().__init__(**kw)
        self.set_published(
            modulation_alpha=modulation_alpha,
            momentum=momentum,
            prototype_fraction=prototype_fraction,
            modulation_starts=modulation_starts,
            modulation_ends=modulation_ends,
        )
        if (
            self.modulation_alpha < 0
            or not 0 <= self.momentum <= 1
            or not 0 < self.prototype_fraction <= 1
        ):
            raise ValueError(
                "need modulation_alpha >= 0, 0 <= momentum <= 1 and 0 < prototype_fraction <= 1; got "
                f"{self.modulation_alpha}, {self.momentum}, {self.prototype_fraction}"
            )
        self.momentum_from = momentum_from
        self.epoch = 0
        self.prototypes: dict[str, Tensor] | None = None

    def update_prototypes(
        self, model: MultimodalClassifier, batches: Iterable[Batch], epoch: int
    ) -> None:
        """Centroids of ``batches`` per class, blended into the previous prototypes from ``momentum_from`` on."""
        centroids, counts = class_centroids(model, batches, model.num_classes)
        old = self.prototypes or {m: torch.zeros_like(c) for m, c in centroids.items()}
        present = (counts > 0)[:, None]
        new = {m: torch.where(present, c, old[m]) for m, c in centroids.items()}
        if self.prototypes is not None and epoch >= self.momentum_from:
            # p <- (1 - momentum) c + momentum p_old
            new = {m: (1 - self.momentum) * new[m] + self.momentum * old[m] for m in new}
        self.prototypes = new

    def on_epoch_start(
        self,
        epoch: int,
        model: MultimodalClassifier,
        loaders: Mapping[str, Iterable],
        optimizer: torch.optim.Optimizer,
    ) -> None:
        if model.task != "classification":
            raise ConfigError(
                f"pmr needs a classifier (its prototypes are class centroids of feature vectors); "
                f"this model's task is {model.task}. What to do: use another method"
            )
        self.epoch = epoch
        train = loaders["train"]
        n = max(1, int(len(train) * self.prototype_fraction))
        self.update_prototypes(model, (batch for _, batch in zip(range(n), train)), epoch)

    def prototype_weights(self, sims: Mapping[str, Tensor], labels: Tensor) -> dict[str, float]:
        """modulation_alpha for each modality whose prototype confidence s_m is below another's, else 0."""
        # s_m = sum_i softmax(sim_m)_i[y_i]
        scores = {
            m: float(true_class_probability(s.detach(), labels).sum()) for m, s in sims.items()
        }
        best = max(scores.values())
        return {m: self.modulation_alpha if s < best else 0.0 for m, s in scores.items()}

    def compute_gradients(self, model: MultimodalClassifier, batch: Batch) -> dict[str, Tensor]:
        y = batch["label"]
        feats = model.encode(batch)
        loss = loss_multi = model.loss(model.fuse(feats), y)
        losses = {}
        if self.prototypes is not None:
            own = {m: model.modality_feature(feats, m) for m in model.modalities}
            # sim_m = -||z_m - p_{m,k}|| for every class k: (B, K)
            sims = {m: -torch.cdist(z, self.prototypes[m].to(z.dtype)) for m, z in own.items()}
            losses = {f"loss_proto_{m}": F.cross_entropy(s, y) for m, s in sims.items()}
            if self.modulation_starts <= self.epoch <= self.modulation_ends:
                weights = self.prototype_weights(sims, y)
                # L = L^Multi + sum_m beta_m CE(sim_m, y); beta_m = alpha if m clusters worse
                loss = loss + sum(weights[m] * losses[f"loss_proto_{m}"] for m in model.modalities)
        loss.backward()
        return {"loss_multi": loss_multi.detach(), **{k: v.detach() for k, v in losses.items()}}

    def state_dict(self) -> dict:
        return {"prototypes": self.prototypes}

    def load_state_dict(self, state: dict) -> None:
        self.prototypes = state["prototypes"]
