"""``dnr``: Diagnosing & Re-learning (Wei, Li, Feng & Hu, ECCV 2024).

Training is vanilla joint training (the multimodal cross-entropy). After every ``reinit_epoch``-th
epoch (20, 40, 60 by default, at most ``reinit_num`` times) each encoder is diagnosed and softly
re-initialised:

1. diagnose: features of the training and the validation split (eval mode) are scaled to [-1, 1]
   per dimension (each set on its own, as the official code does) and clustered by k-means with one
   cluster per class; purity is the fraction of samples whose cluster's majority label is theirs.
   The purity gap ``|purity_train - purity_val|`` measures how far the encoder has overfitted;
2. re-learn: ``w_m = tanh(move_lambda * gap_m)`` and every parameter of encoder m becomes
   ``w_m * theta_init + (1 - w_m) * theta`` (theta_init: the encoder at the start of training;
   batch-norm running statistics, buffers, are left alone).

This follows the official ``code/ours.py`` with the defaults of its CREMA-D script (``ours.sh``:
move_lambda 3, reinit_epoch 20, reinit_num 3). There the diagnosis runs at the end of epoch e (after
the epoch's evaluation); here it runs at the start of epoch e + 1, which is the same model sequence.
The official features of the training split come from the shuffled training loader (training-time
transforms), as here. k-means uses ``random_state=0`` as there and ``n_init=10``, scikit-learn's
default when the code was written (newer versions default to a single initialisation).

The method's state (the initial encoder weights, the re-initialisations done and the last weights) is
checkpointed, so a resumed run re-initialises exactly as an uninterrupted one.
"""

from __future__ import annotations

import math
from typing import Any, Iterable, Mapping

import numpy as np
import torch
from sklearn.cluster import KMeans
from sklearn.preprocessing import MinMaxScaler
from torch import Tensor

from ..data import to_device
from ..models import MultimodalClassifier
from . import METHODS
from .vanilla import Vanilla


def purity(labels: np.ndarray, clusters: np.ndarray) -> float:
    """Fraction of samples whose cluster's most frequent label is their own label (ties: the smallest label)."""
    correct = 0
    for c in np.unique(clusters):
        members = labels[clusters == c]
        correct += np.bincount(members).max()
    return float(correct / len(labels))


def cluster_purity(features: np.ndarray, labels: np.ndarray, num_classes: int) -> float:
    """Purity of k-means (one cluster per class) on features min-max scaled to [-1, 1]."""
    scaled = MinMaxScaler(feature_range=(-1, 1)).fit_transform(features)
    clusters = KMeans(n_clusters=num_classes, random_state=0, n_init=10).fit_predict(scaled)
    return purity(labels, clusters)


def reinit_weight(purity_gap: float, move_lambda: float) -> float:
    """The re-initialisation strength tanh(lambda * gap)."""
    # w_m = tanh(lambda * |purity_train - purity_val|)
    return math.tanh(move_lambda * purity_gap)


@torch.no_grad()
def split_features(
    model: MultimodalClassifier, loader: Iterable
) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Encoder features (eval mode) of every batch of ``loader`` per modality, and the labels; the
    model is left in its previous mode."""
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    feats: dict[str, list[np.ndarray]] = {m: [] for m in model.modalities}
    labels = []
    for batch in loader:
        for m, z in model.modality_features(to_device(batch, device)).items():
            feats[m].append(z.float().cpu().numpy())
        labels.append(batch["label"].cpu().numpy())
    model.train(was_training)
    return {m: np.concatenate(v) for m, v in feats.items()}, np.concatenate(labels)


@METHODS.register("dnr")
class DiagnosingRelearning(Vanilla):
    """Vanilla training with periodic purity-gap diagnosis and soft re-initialisation of each encoder."""

    PUBLISHED = {
        "*": dict(move_lambda=3.0, reinit_epoch=20, reinit_num=3)
    }  # the official CREMA-D script

    def __init__(
        self,
        move_lambda: float | None = None,
        reinit_epoch: int | None = None,
        reinit_num: int | None = None,
        **kw: Any,
    ) -> None:
        super().__init__(**kw)
        self.set_published(
            move_lambda=move_lambda, reinit_epoch=reinit_epoch, reinit_num=reinit_num
        )
        if self.move_lambda < 0:
            raise ValueError(f"move_lambda must be >= 0, got {self.move_lambda}")
        if self.reinit_epoch < 1 or self.reinit_num < 0:
            raise ValueError(
                f"reinit_epoch must be >= 1 and reinit_num >= 0, got {self.reinit_epoch} and {self.reinit_num}"
            )
        self.initial: dict[str, list[Tensor]] = {}
        self.reinits: list[
            dict[str, Any]
        ] = []  # per re-initialisation: epoch, purities, gap and weight per modality

    def setup(self, model: MultimodalClassifier) -> None:
        self.initial = {
            m: [p.detach().clone() for p in model.encoder_parameters(m)] for m in model.modalities
        }

    def is_reinit_epoch(self, finished_epoch: int) -> bool:
        """Whether the official schedule re-initialises after ``finished_epoch`` (0-based)."""
        return (
            finished_epoch > 0
            and finished_epoch % self.reinit_epoch == 0
            and len(self.reinits) < self.reinit_num
        )

    def diagnose(
        self, model: MultimodalClassifier, train_loader: Iterable, val_loader: Iterable
    ) -> dict[str, dict]:
        """Per modality: train and validation purity, their gap and the re-initialisation weight."""
        (train, y_train), (val, y_val) = (
            split_features(model, train_loader),
            split_features(model, val_loader),
        )
        result = {}
        for m in model.modalities:
            p_train = cluster_purity(train[m], y_train, model.num_classes)
            p_val = cluster_purity(val[m], y_val, model.num_classes)
            gap = abs(p_train - p_val)
            result[m] = {
                "purity_train": p_train,
                "purity_val": p_val,
                "gap": gap,
                "weight": reinit_weight(gap, self.move_lambda),
            }
        return result

    @torch.no_grad()
    def reinitialise(self, model: MultimodalClassifier, weights: dict[str, float]) -> None:
        """theta <- w_m * theta_init + (1 - w_m) * theta for every parameter of each encoder m."""
        for m, w in weights.items():
            for p, p0 in zip(model.encoder_parameters(m), self.initial[m]):
                # theta <- w_m theta_init + (1 - w_m) theta
                p.copy_(w * p0.to(p) + (1 - w) * p)

    def on_epoch_start(
        self,
        epoch: int,
        model: MultimodalClassifier,
        loaders: Mapping[str, Iterable],
        optimizer: torch.optim.Optimizer,
    ) -> None:
        if not self.is_reinit_epoch(epoch - 1):
            return
        diagnosis = self.diagnose(model, loaders["train"], loaders["val"])
        self.reinitialise(model, {m: d["weight"] for m, d in diagnosis.items()})
        self.reinits.append({"epoch": epoch - 1, **diagnosis})

    def state_dict(self) -> dict:
        return {"initial": self.initial, "reinits": self.reinits}

    def load_state_dict(self, state: dict) -> None:
        self.initial, self.reinits = state["initial"], state["reinits"]
