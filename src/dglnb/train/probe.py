"""The linear probe: how much a frozen encoder's features say about the label, per modality."""

from __future__ import annotations

import numpy as np
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits
from torch import nn
from torch.utils.data import DataLoader

from ..data import to_device
from .device import autocast
from .loaders import batches


@torch.no_grad()
def encode_split(model: nn.Module, loader: DataLoader, device: torch.device) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Frozen encoder features (eval mode) of every sample, per modality, and the labels."""
    model.eval()
    feats: dict[str, list[np.ndarray]] = {}
    labels = []
    for batch in batches(loader):
        batch = to_device(batch, device)
        with autocast(device):
            z = model.modality_features(batch)
        for m, v in z.items():
            feats.setdefault(m, []).append(v.float().cpu().numpy())
        labels.append(batch["label"].cpu().numpy())
    return {m: np.concatenate(v) for m, v in feats.items()}, np.concatenate(labels)


def linear_probe(model: nn.Module, train: DataLoader, test: DataLoader, device: torch.device) -> dict[str, float]:
    """Per modality: test accuracy of a logistic regression fitted on frozen train-split features.

    The features are the encoders' in eval mode (batch norm with its running statistics), of the
    inputs ``train`` gives: pass a loader of un-augmented samples (as :func:`~dglnb.train.loop.fit`'s ``train_eval``)."""
    x_train, y_train = encode_split(model, train, device)
    x_test, y_test = encode_split(model, test, device)
    scores = {}
    with threadpool_limits(1):  # BLAS threads fighting torch's idle OpenMP threads make lbfgs ~10x slower
        for m in x_train:
            probe = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
            probe.fit(x_train[m], y_train)
            scores[m] = float(probe.score(x_test[m], y_test))
    return scores
