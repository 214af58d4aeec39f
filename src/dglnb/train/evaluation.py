"""Scoring a model: every head of ``method.predict`` over a split, and the selected model's final scores.

Per epoch the loop scores the validation split (and the test split when the test split selects the
epoch) with the model as it is, batch norm normalising by the running statistics gathered in
training. Those statistics come from the training passes, which see every modality; a head that
zeroes a modality (eq. 12/14) sends the layers after the fusion point inputs of another
distribution. Where the layers ``model.fuse`` runs hold batch norm (the segmenter's decoder, MMTM's
stages 2-4 and transfer modules; a late fusion's linear head holds none), :func:`final_scores`
re-estimates their statistics for each head's own input pattern on the training split before scoring
that head (:func:`dglnb.models.norm.recalibrated_stats`): each head is scored with statistics of the
inputs it reads. The encoders before the fusion point read the same inputs whichever head is scored
and keep the statistics gathered in training. The scores with the training statistics are kept
beside them.
"""

from __future__ import annotations

import itertools
from typing import Any, Callable

import torch
from torch import Tensor, nn
from torch.utils.data import DataLoader

from .. import metrics
from ..data import to_device
from ..models.norm import norm_layers_in, recalibrated_stats
from .device import autocast
from .loaders import batches

CALIBRATION_SAMPLES = (
    2048  # at most this many training samples (in a fixed order) re-estimate statistics
)
#: What :func:`final_scores` computes, numbered. The run cache keys on it
#: (:func:`dglnb.train.cache.run_key`): a run scored before a change is trained again, never read.
#: 2: only the batch norm that ``model.fuse`` runs is re-estimated (1 re-estimated the encoders' too).
SCORING = 2


@torch.no_grad()
def evaluate(
    model: nn.Module,
    method: Any,
    loader: DataLoader,
    device: torch.device,
    predict: Callable[[dict[str, Any]], dict[str, Tensor]] | None = None,
) -> dict[str, float]:
    """Scores of every head ``method.predict`` returns (or ``predict(batch)``, when given), over the
    whole loader, by ``model.task`` (:mod:`dglnb.metrics`): the primary score under the head's name
    (accuracy, a fraction; mIoU for segmentation), any other as ``"<head>/<metric>"``."""
    model.eval()
    scorers: dict[str, metrics.Scorer] = {}
    for batch in batches(loader):
        batch = to_device(batch, device)
        with autocast(device):
            logits = predict(batch) if predict else method.predict(model, batch)
        for head, out in logits.items():
            scorers.setdefault(head, metrics.scorer_class(model.task)()).update(out, batch["label"])
    return metrics.flat_scores(scorers)


def selection_score(scores: dict[str, float]) -> float:
    """The number model selection maximises: the multimodal head's primary score (accuracy, or mIoU),
    else the mean over the heads' primary scores."""
    if "multimodal" in scores:
        return scores["multimodal"]
    primary = [v for k, v in scores.items() if "/" not in k]
    return sum(primary) / len(primary)


def _calibration_batches(loader: DataLoader, device: torch.device) -> list[dict[str, Any]]:
    """The first ``CALIBRATION_SAMPLES`` samples of ``loader`` (un-augmented, fixed order), on ``device``."""
    taken, out = 0, []
    for batch in itertools.takewhile(lambda _: taken < CALIBRATION_SAMPLES, batches(loader)):  # noqa: B023 (reads the running count)
        out.append(to_device(batch, device))
        taken += len(batch["label"])
    return out


def final_scores(
    model: nn.Module,
    method: Any,
    loaders: dict[str, DataLoader],
    device: torch.device,
    splits: tuple[str, ...] = ("val", "test"),
) -> dict[str, dict[str, float]]:
    """The selected model's scores per split: ``{split: scores}`` as :func:`evaluate` gives them, each
    head through ``model.fuse`` scored with batch-norm statistics re-estimated for its own input pattern
    on ``loaders["train_eval"]`` where the fusion pass holds batch norm; then, only in that case,
    ``{split}_running_stats``: the same heads with the training statistics (see the module doc)."""
    plain = {split: evaluate(model, method, loaders[split], device) for split in splits}
    calibration = _calibration_batches(loaders["train_eval"], device)
    model.eval()

    def fused(batch: dict[str, Any], zero: tuple[str, ...]) -> Any:
        with autocast(device):
            return model.fuse(model.encode(batch), zero)

    patterns = {}
    # the layers to re-estimate are those ``model.fuse`` runs (the encoders before the fusion point see
    # the same inputs whichever head reads them, and keep their training statistics); which layers a
    # head runs does not depend on how many samples pass: two are enough to find them
    pair = {k: v[:2] for k, v in calibration[0].items()}
    with torch.no_grad(), autocast(device):
        pair_features = model.encode(pair)
    for head, zero in method.fused_heads(model).items():
        with torch.no_grad(), autocast(device):
            layers = norm_layers_in(lambda: model.fuse(pair_features, zero), model)  # noqa: B023 (called at once)
        if layers:
            patterns[head] = (zero, layers)
    if not patterns:
        return plain
    scores = {split: dict(values) for split, values in plain.items()}
    for head, (zero, layers) in patterns.items():
        passes = [lambda batch=batch, zero=zero: fused(batch, zero) for batch in calibration]
        with recalibrated_stats(layers, passes):
            for split in splits:  # this head alone (what method.predict gives for it)
                scores[split].update(
                    evaluate(
                        model,
                        method,
                        loaders[split],
                        device,
                        lambda batch, head=head, zero=zero: {head: fused(batch, zero)},
                    )
                )
    return {**scores, **{f"{split}_running_stats": plain[split] for split in splits}}
