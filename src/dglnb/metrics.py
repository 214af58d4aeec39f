"""Evaluation scores by task, accumulated batch by batch over a split.

=============== ================================= ==================================================
task            primary score                     other scores
=============== ================================= ==================================================
classification  ``accuracy`` (fraction correct)   none
segmentation    ``miou`` (mean IoU over classes)  ``pixel_accuracy`` (fraction of labelled pixels)
=============== ================================= ==================================================

Segmentation scores come from one confusion matrix over every labelled pixel of the split (pixels
labelled ``IGNORE_INDEX`` are left out). IoU_k = TP_k / (TP_k + FP_k + FN_k); the mean runs over the
classes that occur in the ground truth or the prediction of the split; a class absent from both has
no defined IoU and is excluded (counting it as 0 or 1 would move the mean by an arbitrary amount).

:func:`flat_scores` names the primary score by the head alone (``"multimodal"``, ``"rgb"``) and any
other as ``"<head>/<metric>"`` (``"rgb/pixel_accuracy"``): the training loop selects on the former.
"""

from __future__ import annotations

from typing import ClassVar, Mapping, Protocol

import torch
from torch import Tensor

IGNORE_INDEX = 255  # the label of unlabelled pixels: no loss, no score


class Scorer(Protocol):
    names: ClassVar[tuple[str, ...]]  # the metrics it reports, the task's primary score first

    def update(self, logits: Tensor, labels: Tensor) -> None: ...

    def result(self) -> dict[str, float]:
        """Scores by metric name, in the order of ``names``."""
        ...


class Accuracy:
    """Fraction of samples whose arg-max logit is the label."""

    names = ("accuracy",)

    def __init__(self) -> None:
        self.correct = 0
        self.total = 0

    def update(self, logits: Tensor, labels: Tensor) -> None:
        self.correct += int((logits.argmax(dim=1) == labels).sum())
        self.total += labels.numel()

    def result(self) -> dict[str, float]:
        return {"accuracy": self.correct / self.total}


def confusion_matrix(pred: Tensor, target: Tensor, num_classes: int) -> Tensor:
    """(K, K) counts, rows = ground truth, columns = prediction, over pixels not labelled ``IGNORE_INDEX``."""
    keep = target != IGNORE_INDEX
    target, pred = target[keep], pred[keep]
    if target.numel() and (target.min() < 0 or target.max() >= num_classes):
        raise ValueError(
            f"labels must be in [0, {num_classes}) or {IGNORE_INDEX}, got {target.unique().tolist()}"
        )
    return torch.bincount(target * num_classes + pred, minlength=num_classes**2).view(
        num_classes, num_classes
    )


def mean_iou(confusion: Tensor) -> float:
    """Mean of TP / (TP + FP + FN) over the classes present in the ground truth or the prediction.

    A class predicted but absent from the ground truth counts with IoU 0; a class absent from both
    (also one predicted only on unlabelled pixels, which the confusion matrix leaves out) does not
    count. NaN when no pixel is labelled.
    """
    tp = confusion.diag().double()
    union = confusion.sum(dim=0) + confusion.sum(dim=1) - confusion.diag()
    present = union > 0
    return float((tp[present] / union[present]).mean()) if present.any() else float("nan")


def pixel_accuracy(confusion: Tensor) -> float:
    """Fraction of labelled pixels predicted correctly."""
    return float(confusion.diag().sum() / confusion.sum())


class SegmentationScores:
    """mIoU and pixel accuracy of (B, K, H, W) logits against (B, H, W) labels, over all batches."""

    names = ("miou", "pixel_accuracy")

    def __init__(self) -> None:
        self.confusion: Tensor | None = None

    def update(self, logits: Tensor, labels: Tensor) -> None:
        counts = confusion_matrix(logits.argmax(dim=1), labels, logits.shape[1])
        self.confusion = counts if self.confusion is None else self.confusion + counts

    def result(self) -> dict[str, float]:
        return {"miou": mean_iou(self.confusion), "pixel_accuracy": pixel_accuracy(self.confusion)}


SCORERS: dict[str, type[Scorer]] = {"classification": Accuracy, "segmentation": SegmentationScores}


def scorer_class(task: str) -> type[Scorer]:
    """The scorer of ``task`` (``.names`` lists its metrics, the primary one first)."""
    if task not in SCORERS:
        raise ValueError(f"unknown task {task!r}; valid tasks: {', '.join(SCORERS)}")
    return SCORERS[task]


def flat_scores(scorers: Mapping[str, Scorer]) -> dict[str, float]:
    """``{head: primary score, "<head>/<metric>": other score}`` (see the module doc)."""
    flat = {}
    for head, s in scorers.items():
        primary, *others = s.result().items()
        flat[head] = primary[1]
        flat.update({f"{head}/{name}": value for name, value in others})
    return flat
