"""Evaluation scores: accuracy, and mIoU / pixel accuracy with unlabelled pixels ignored."""

import math

import pytest
import torch
import torch.nn.functional as F

from dglnb.metrics import (
    IGNORE_INDEX,
    Accuracy,
    SegmentationScores,
    confusion_matrix,
    flat_scores,
    mean_iou,
)
from dglnb.train.evaluation import selection_score

# One 2x3 image, 4 classes. Ground truth and prediction, pixel by pixel:
#   gt   0 0 1 | 1 2 255        class 0: TP 1, FP 1 (the 2 read as 0), FN 1 (a 0 read as 1) -> IoU 1/3
#   pred 0 1 1 | 1 0 2          class 1: TP 2, FP 1, FN 0 -> IoU 2/3;  class 2: TP 0, FP 0, FN 1 -> IoU 0
# The unlabelled pixel's prediction (2) counts nowhere; class 3 is absent from both and is excluded.
TARGET = torch.tensor([[[0, 0, 1], [1, 2, IGNORE_INDEX]]])
PRED = torch.tensor([[[0, 1, 1], [1, 0, 2]]])
NUM_CLASSES = 4


def one_hot_logits(pred: torch.Tensor, num_classes: int = NUM_CLASSES) -> torch.Tensor:
    return F.one_hot(pred, num_classes).permute(0, 3, 1, 2).float()


def test_miou_matches_the_hand_computed_example():
    scores = SegmentationScores()
    scores.update(one_hot_logits(PRED), TARGET)
    result = scores.result()
    assert result["miou"] == pytest.approx((1 / 3 + 2 / 3 + 0) / 3)
    assert result["pixel_accuracy"] == pytest.approx(3 / 5)


def test_miou_averages_over_classes_in_ground_truth_or_prediction():
    """Class 3 is absent from the ground truth but predicted on a labelled pixel: IoU 0, and it counts.
    Class 2 is predicted only on an unlabelled pixel: absent from both, so it does not count.

        gt   0 0 1 1 | 1 255 255 0     class 0: TP 2, FP 1, FN 1 -> 1/2;  class 1: TP 2, FP 0, FN 1 -> 2/3
        pred 0 3 1 1 | 0  2   3  0     class 3: TP 0, FP 1, FN 0 -> 0;    mIoU = (1/2 + 2/3 + 0) / 3 = 7/18

    (Over ground-truth classes only it would be 7/12; over all four with absent ones as 0, 7/24.)
    """
    target = torch.tensor([[[0, 0, 1, 1], [1, IGNORE_INDEX, IGNORE_INDEX, 0]]])
    pred = torch.tensor([[[0, 3, 1, 1], [0, 2, 3, 0]]])
    scores = SegmentationScores()
    scores.update(one_hot_logits(pred), target)
    assert scores.result() == {
        "miou": pytest.approx(7 / 18),
        "pixel_accuracy": pytest.approx(4 / 6),
    }


def test_the_confusion_matrix_skips_unlabelled_pixels():
    confusion = confusion_matrix(PRED, TARGET, NUM_CLASSES)
    assert confusion.sum() == 5
    assert confusion[:, 2].sum() == 0  # the only "2" predicted sits on the unlabelled pixel


def test_scores_accumulate_over_batches_as_one_pass():
    whole = SegmentationScores()
    whole.update(one_hot_logits(PRED), TARGET)
    split = SegmentationScores()
    split.update(one_hot_logits(PRED[:, :1]), TARGET[:, :1])
    split.update(one_hot_logits(PRED[:, 1:]), TARGET[:, 1:])
    assert split.result() == whole.result()


def test_miou_of_a_split_with_no_labelled_pixel_is_nan():
    assert math.isnan(mean_iou(torch.zeros(3, 3, dtype=torch.long)))


def test_a_label_outside_the_classes_is_an_error():
    with pytest.raises(ValueError, match=r"labels must be in \[0, 4\) or 255"):
        confusion_matrix(PRED, torch.full_like(TARGET, 7), NUM_CLASSES)


def test_accuracy_is_the_fraction_of_correct_samples():
    scores = Accuracy()
    scores.update(torch.tensor([[2.0, 0.0], [0.0, 1.0], [3.0, 1.0]]), torch.tensor([0, 1, 1]))
    assert scores.result() == {"accuracy": pytest.approx(2 / 3)}


def test_the_primary_score_is_named_by_the_head_and_the_others_by_head_and_metric():
    seg = SegmentationScores()
    seg.update(one_hot_logits(PRED), TARGET)
    flat = flat_scores({"multimodal": seg})
    assert flat == {
        "multimodal": seg.result()["miou"],
        "multimodal/pixel_accuracy": seg.result()["pixel_accuracy"],
    }


def test_selection_uses_the_primary_scores_only():
    assert selection_score({"multimodal": 0.2, "multimodal/pixel_accuracy": 0.9}) == 0.2
    assert selection_score({"rgb": 0.2, "depth": 0.4, "rgb/pixel_accuracy": 0.9}) == pytest.approx(
        0.3
    )
