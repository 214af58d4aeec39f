"""The synthetic benchmark: deterministic tensors, documented shapes, and the intended imbalance."""

import numpy as np
import pytest
import torch
from sklearn.linear_model import LogisticRegression

from dglnb.data import DATASETS, load_dataset
from dglnb.data.synthetic import SIZES


def arrays(name: str, split: str, profile: str = "quick", seed: int = 0) -> dict[str, torch.Tensor]:
    ds = load_dataset(name, split, profile=profile, seed=seed)
    return {**ds.inputs, "label": ds.labels}


def test_both_benchmarks_are_registered():
    assert "synthetic" in DATASETS and "synthetic3" in DATASETS


@pytest.mark.parametrize("name", ["synthetic", "synthetic3"])
def test_same_seed_gives_the_same_tensors_every_time(name):
    first, second = arrays(name, "train"), arrays(name, "train")
    for key in first:
        assert torch.equal(first[key], second[key])


def test_another_dataset_seed_gives_other_tensors():
    assert not torch.equal(
        arrays("synthetic", "train", seed=0)["easy"], arrays("synthetic", "train", seed=1)["easy"]
    )


def test_splits_are_distinct_draws_of_the_sizes_documented():
    train, val, test = (arrays("synthetic", s) for s in ("train", "val", "test"))
    assert (
        [len(a["label"]) for a in (train, val, test)] == list(SIZES["quick"]) == [1000, 1000, 4000]
    )
    assert not torch.equal(train["hard"][:100], val["hard"][:100])


def test_items_info_and_shapes():
    ds = load_dataset("synthetic3", "val", profile="smoke")
    item = ds[0]
    assert ds.info.modalities == ("easy", "hard", "faint")
    assert ds.info.num_classes == 10 and set(ds.info.kinds.values()) == {"vector"}
    assert all(
        item[m].shape == (64,) and item[m].dtype == torch.float32 for m in ds.info.modalities
    )
    assert isinstance(item["label"], int) and isinstance(item["id"], str)
    assert len(ds) == SIZES["smoke"][1]


def test_labels_are_balanced():
    counts = np.bincount(arrays("synthetic", "test")["label"].numpy(), minlength=10)
    assert (counts == 400).all()


def probe_accuracy(modality: str, target=lambda y: y) -> float:
    """A linear classifier on one modality, fitted on train and scored on test."""
    train, test = arrays("synthetic3", "train"), arrays("synthetic3", "test")
    clf = LogisticRegression(max_iter=1000).fit(
        train[modality].numpy(), target(train["label"].numpy())
    )
    return clf.score(test[modality].numpy(), target(test["label"].numpy()))


def test_easy_tells_the_class_pair_linearly_but_hard_is_not_linearly_separable():
    assert probe_accuracy("easy", target=lambda y: y // 2) > 0.99
    assert probe_accuracy("easy") < 0.85  # only a faint cue within the pair
    assert probe_accuracy("hard") < 0.3  # the sign flip defeats a linear model
    assert 0.5 < probe_accuracy("faint") < 0.95  # full label, linear, low SNR


# ----------------------------------------------------------------------------- synthetic_seq3
def seq3_probe(*modalities: str) -> float:
    """Test accuracy of a logistic regression on the time-averaged sequences of ``modalities``."""

    def features(split):
        data = load_dataset("synthetic_seq3", split, profile="quick")
        x = torch.cat([data.inputs[m].mean(dim=1) for m in modalities], dim=1).numpy()
        return x, data.labels.numpy()

    clf = LogisticRegression(max_iter=2000).fit(*features("train"))
    return clf.score(*features("test"))


def test_seq3_each_modality_alone_is_well_above_chance_and_well_below_all_three():
    alone = {m: seq3_probe(m) for m in ("easy", "mid", "weak")}
    together = seq3_probe("easy", "mid", "weak")
    assert min(alone.values()) > 0.3, alone  # chance is 0.1
    assert together - max(alone.values()) > 0.15, (alone, together)
    assert alone["mid"] > alone["weak"] + 0.05, alone  # two levels of signal, both linear


def test_seq3_easy_is_learned_first(tmp_path):
    """Trained alone for one epoch, the easy model is far ahead of the two others."""
    from dglnb.config import TrainConfig
    from dglnb.train import train

    first = train(
        TrainConfig(
            dataset="synthetic_seq3",
            fusion="mlp_mixer",
            method="unimodal",
            profile="quick",
            epochs=1,
            out=tmp_path,
            progress=False,
        )
    )["test_score"]
    assert first["easy"] > max(first["mid"], first["weak"]) + 0.15, first
