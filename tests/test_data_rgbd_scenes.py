"""The embedded RGB-D scenes: deterministic, in the segmentation format, unlabelled where depth is
missing, and with the intended cues, measured by tiny per-pixel models: each modality alone leaves a
class pair at chance that the other separates, and jointly trained, colour wins."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from dglnb.config import TrainConfig
from dglnb.data import load_dataset
from dglnb.data.rgbd_scenes import BLUE, CABINET, CLASSES, PICTURE, RED, SIZES, WALL, generate
from dglnb.metrics import IGNORE_INDEX, SegmentationScores, mean_iou
from dglnb.train import train

# ----------------------------------------------------------------------------- format


def test_same_seed_same_scenes_and_a_smaller_profile_takes_the_first_ones():
    smoke, quick = (
        load_dataset("rgbd_scenes", "train", profile="smoke"),
        load_dataset("rgbd_scenes", "train"),
    )
    again = load_dataset("rgbd_scenes", "train", profile="smoke")
    n = SIZES["smoke"][0]
    for m in ("rgb", "depth"):
        assert torch.equal(smoke.inputs[m], again.inputs[m]) and torch.equal(
            smoke.inputs[m], quick.inputs[m][:n]
        )
    assert torch.equal(smoke.labels, quick.labels[:n])
    other_split = load_dataset("rgbd_scenes", "val", profile="smoke")
    other_seed = load_dataset("rgbd_scenes", "train", profile="smoke", seed=1)
    assert not torch.equal(smoke.inputs["rgb"][:4], other_split.inputs["rgb"][:4])
    assert not torch.equal(smoke.inputs["rgb"], other_seed.inputs["rgb"])


def test_items_are_in_the_nyuv2_segmentation_format():
    ds = load_dataset("rgbd_scenes", "val", profile="smoke")
    assert len(ds) == SIZES["smoke"][1]
    assert ds.info.task == "segmentation" and ds.info.num_classes == len(CLASSES) == 6
    assert ds.info.shapes == {"rgb": (3, 32, 32), "depth": (1, 32, 32)}
    item = ds[0]
    assert item["rgb"].shape == (3, 32, 32) and item["depth"].shape == (1, 32, 32)
    assert item["label"].shape == (32, 32) and item["label"].dtype == torch.long
    values = set(ds.labels.unique().tolist())
    assert values <= set(range(len(CLASSES))) | {IGNORE_INDEX} and len(values) >= 5


def test_missing_depth_is_exactly_the_unlabelled_pixels():
    arrays = generate(64, "train", 32)
    missing = arrays["depth"] == 0
    assert np.array_equal(missing, arrays["label"] == IGNORE_INDEX)
    assert 0.01 < missing.mean() < 0.15
    assert arrays["depth"][~missing].min() > 0.3


def test_unlabelled_pixels_count_in_no_score():
    """A prediction perfect wherever a label exists scores 1, whatever it says where depth is missing."""
    labels = load_dataset("rgbd_scenes", "test", profile="smoke").labels
    guess = torch.where(labels == IGNORE_INDEX, torch.randint(len(CLASSES), labels.shape), labels)
    scores = SegmentationScores()
    scores.update(F.one_hot(guess, len(CLASSES)).permute(0, 3, 1, 2).float(), labels)
    assert scores.result() == {"miou": 1.0, "pixel_accuracy": 1.0}


def test_paired_classes_share_every_cue_but_one():
    """Pictures and cabinets share colours; red and blue cushions share depths relative to what is behind."""
    arrays = generate(400, "train", 32)
    rgb, depth, label = arrays["rgb"].transpose(0, 2, 3, 1), arrays["depth"], arrays["label"]
    mean_colour = {c: rgb[label == c].mean(axis=0) for c in (PICTURE, CABINET, RED, BLUE)}
    assert np.abs(mean_colour[PICTURE] - mean_colour[CABINET]).max() < 0.03
    assert np.abs(mean_colour[RED] - mean_colour[BLUE]).max() > 0.3
    wall = np.array([np.median(d[lab == WALL]) for d, lab in zip(depth, label)])[:, None, None]
    in_front = {c: (wall - depth)[label == c].mean() for c in (PICTURE, CABINET, RED, BLUE)}
    assert abs(in_front[PICTURE]) < 0.05 and in_front[CABINET] > 0.5
    assert abs(in_front[RED] - in_front[BLUE]) < 0.1


# ----------------------------------------------------------------------------- cues, by tiny models


def tiny_segmenter(in_channels: int) -> nn.Module:
    """Four dilated 3x3 convolutions (receptive field 31 px), then per-pixel logits."""
    layers, channels = [], in_channels
    for dilation in (1, 2, 4, 8):
        layers += [nn.Conv2d(channels, 8, 3, padding=dilation, dilation=dilation), nn.ReLU()]
        channels = 8
    return nn.Sequential(*layers, nn.Conv2d(8, len(CLASSES), 1))


@pytest.fixture(scope="module")
def log_probs() -> tuple[dict[str, torch.Tensor], torch.Tensor]:
    """Test-scene log-probabilities of tiny models trained 200 steps on rgb, on depth and on both
    (inputs standardised), and the test labels."""
    train, test = load_dataset("rgbd_scenes", "train"), load_dataset("rgbd_scenes", "test")
    mean, std = train.inputs["depth"].mean(), train.inputs["depth"].std()

    def inputs(ds, modalities, index):
        return torch.cat(
            [
                (ds.inputs[m][index] - mean) / std if m == "depth" else ds.inputs[m][index]
                for m in modalities
            ],
            dim=1,
        )

    out, test_index, threads = {}, torch.arange(64), torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        for name, modalities in {
            "rgb": ("rgb",),
            "depth": ("depth",),
            "both": ("rgb", "depth"),
        }.items():
            torch.manual_seed(0)
            model = tiny_segmenter(3 * ("rgb" in modalities) + ("depth" in modalities))
            optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
            for _ in range(200):
                index = torch.randint(160, (8,))
                loss = F.cross_entropy(
                    model(inputs(train, modalities, index)),
                    train.labels[index],
                    ignore_index=IGNORE_INDEX,
                )
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
            with torch.no_grad():
                out[name] = model(inputs(test, modalities, test_index)).log_softmax(dim=1)
    finally:
        torch.set_num_threads(threads)
    return out, test.labels[test_index]


def confusion(log_prob: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    scores = SegmentationScores()
    scores.update(log_prob, labels)
    return scores.confusion


def pair_accuracy(confusion: torch.Tensor, a: int, b: int) -> float:
    """Among pixels of class a or b predicted as a or b, the fraction right: 0.5 = chance."""
    pair = confusion[[a, b]][:, [a, b]]
    return float(pair.diag().sum() / pair.sum())


def test_each_modality_leaves_at_chance_a_pair_the_other_separates(log_probs):
    out, labels = log_probs
    rgb, depth = confusion(out["rgb"], labels), confusion(out["depth"], labels)
    assert pair_accuracy(rgb, RED, BLUE) > 0.85 and pair_accuracy(depth, RED, BLUE) < 0.75
    assert (
        pair_accuracy(depth, PICTURE, CABINET) > 0.85
        and pair_accuracy(rgb, PICTURE, CABINET) < 0.75
    )


def test_both_modalities_beat_either_alone(log_probs):
    """The two unimodal models combined (summed log-probabilities) against each alone."""
    out, labels = log_probs
    miou = {name: mean_iou(confusion(out[name], labels)) for name in ("rgb", "depth")}
    combined = mean_iou(confusion(out["rgb"] + out["depth"], labels))
    assert combined > max(miou.values()) + 0.05
    assert miou["rgb"] > miou["depth"] + 0.1  # colour is the stronger modality


def test_jointly_trained_colour_dominates(log_probs):
    """Given both modalities, the same tiny model, trained as long, learns the colour pair but leaves
    the depth pair near chance: the imbalance DGL targets."""
    out, labels = log_probs
    both = confusion(out["both"], labels)
    assert pair_accuracy(both, RED, BLUE) > 0.85
    assert pair_accuracy(both, PICTURE, CABINET) < 0.75


# ----------------------------------------------------------------------------- a run


@pytest.mark.parametrize("method", ["vanilla", "dgl", "unimodal"])
def test_the_chapters_methods_train_on_it(tmp_path, method):
    metrics = train(
        TrainConfig(
            dataset="rgbd_scenes", method=method, profile="smoke", out=tmp_path, progress=False
        )
    )
    assert metrics["metric"] == "miou"
    assert (metrics["test_score"]["multimodal"] is None) == (method == "unimodal")
    assert all(0.0 <= v <= 1.0 for v in metrics["test_pixel_accuracy"].values() if v is not None)
