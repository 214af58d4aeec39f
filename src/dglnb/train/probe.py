"""The linear probe: how much a frozen encoder's features say about the label, per modality."""

from __future__ import annotations

import numpy as np
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits
from torch import Tensor, nn
from torch.utils.data import DataLoader

from ..data import to_device
from ..metrics import scorer_class
from .device import autocast
from .loaders import batches
from .speed import make_optimizer


@torch.no_grad()
def encode_split(
    model: nn.Module, loader: DataLoader, device: torch.device
) -> tuple[dict[str, np.ndarray], np.ndarray]:
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


def linear_probe(
    model: nn.Module, train: DataLoader, test: DataLoader, device: torch.device
) -> dict[str, float]:
    """Per modality: test accuracy of a logistic regression fitted on frozen train-split features.

    The features are the encoders' in eval mode (batch norm with its running statistics), of the
    inputs ``train`` gives: pass a loader of un-augmented samples (as
    :func:`~dglnb.train.loop.fit`'s ``train_eval``)."""
    x_train, y_train = encode_split(model, train, device)
    x_test, y_test = encode_split(model, test, device)
    scores = {}
    with threadpool_limits(
        1
    ):  # BLAS threads fighting torch's idle OpenMP threads make lbfgs ~10x slower
        for m in x_train:
            probe = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
            probe.fit(x_train[m], y_train)
            scores[m] = float(probe.score(x_test[m], y_test))
    return scores


def decoder_probe(
    model: nn.Module,
    train: DataLoader,
    test: DataLoader,
    device: torch.device,
    *,
    epochs: int,
    lr: float,
    batch_size: int,
    seed: int = 0,
) -> dict[str, float]:
    """Per modality of a segmenter: test mIoU of a fresh decoder of the unimodal baseline's kind
    (``model.unimodal_head``) trained on the frozen encoder's stage maps of the training split, with
    Adam at ``lr`` for ``epochs`` epochs of ``batch_size`` (the segmentation counterpart of
    :func:`linear_probe`: what the encoder's features allow a decoder of its own to reach, whatever the
    fused decoder does with them).

    The encoders run once per split in eval mode and their maps are kept; ``train`` must give
    un-augmented samples in a fixed order (as :func:`~dglnb.train.loop.fit`'s ``train_eval``)."""
    model.eval()
    with torch.no_grad():
        maps, labels = encode_maps(model, train, device)
        test_maps, test_labels = encode_maps(model, test, device)
    generator = torch.Generator().manual_seed(seed)
    scores = {}
    for m in model.modalities:
        torch.manual_seed(seed)
        decoder = model.unimodal_head(m).to(device)
        optimizer = make_optimizer(
            [{"params": list(decoder.parameters())}], device, "adam", lr=lr, fast=False
        )
        decoder.train()
        for _ in range(epochs):
            for index in torch.randperm(len(labels), generator=generator).split(batch_size):
                index = index.to(device)
                optimizer.zero_grad(set_to_none=True)
                with autocast(device):
                    loss = model.loss(decoder([s[index] for s in maps[m]]), labels[index])
                loss.backward()
                optimizer.step()
        decoder.eval()
        scorer = scorer_class(model.task)()
        with torch.no_grad(), autocast(device):
            for index in torch.arange(len(test_labels), device=device).split(batch_size):
                scorer.update(decoder([s[index] for s in test_maps[m]]), test_labels[index])
        scores[m] = scorer.result()[scorer.names[0]]
    return scores


def encode_maps(
    model: nn.Module, loader: DataLoader, device: torch.device
) -> tuple[dict[str, list[Tensor]], Tensor]:
    """Every sample's stage maps per modality (concatenated over the loader's batches) and the labels."""
    parts: dict[str, list[list[Tensor]]] = {}
    labels = []
    for batch in batches(loader):
        batch = to_device(batch, device)
        for m, stages in model.encode(batch).items():
            parts.setdefault(m, []).append(list(stages))
        labels.append(batch["label"])
    return {
        m: [torch.cat(s) for s in zip(*per_batch)] for m, per_batch in parts.items()
    }, torch.cat(labels)
