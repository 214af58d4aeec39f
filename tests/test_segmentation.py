"""RGB-D segmentation: the ESANet-style segmenter under the same routing rule, its loss, and a run end to end."""

from __future__ import annotations

import copy
import csv
import json
from types import SimpleNamespace

import pytest
import torch
import torch.nn.functional as F
from torch.utils.data import Dataset

import tiny_models
from dglnb.config import TrainConfig
from dglnb.config.profiles import TRAIN_DEFAULTS, TRAINING, training_settings
from dglnb.data import DATASETS
from dglnb.errors import ConfigError
from dglnb.methods import METHODS
from dglnb.metrics import IGNORE_INDEX
from dglnb.models import RGBDSegmenter, build_model
from dglnb.models.resnet import ResNet18
from dglnb.train import train
from dglnb.train.loop import build_optimizer
from tiny_models import AUDIO_VISUAL, RGBD, tiny_model

ALPHA = 2.5


def make_batch(n: int = 2, seed: int = 1) -> dict:
    """Random RGB-D images and labels, about a fifth of the pixels unlabelled."""
    return tiny_models.make_batch(RGBD, n, seed)


# ----------------------------------------------------------------------------- the model


def test_a_segmentation_dataset_builds_the_segmenter_with_per_pixel_logits():
    model = tiny_model(RGBD)
    assert isinstance(model, RGBDSegmenter) and model.task == "segmentation"
    assert model(make_batch()).shape == (2, RGBD.num_classes, 32, 32)


def test_parameter_groups_are_disjoint_and_cover_the_segmenter():
    model = tiny_model(RGBD)
    groups = [model.encoder_parameters(m) for m in model.modalities] + [model.fusion_parameters()]
    ids = [id(p) for group in groups for p in group]
    assert len(ids) == len(set(ids)) == len(list(model.parameters()))
    fusion = {id(p) for p in model.fusion_parameters()}
    assert all(
        id(p) in fusion for p in model.fusion.context.parameters()
    )  # context and decoder are fusion


def test_stages_are_the_trunk_at_strides_4_to_32():
    net = ResNet18(3, width=4).eval()
    x = torch.randn(1, 3, 64, 64)
    stages = net.stages(x)
    assert [s.shape[1:] for s in stages] == [(4, 16, 16), (8, 8, 8), (16, 4, 4), (32, 2, 2)]
    torch.testing.assert_close(stages[-1], net(x))


def test_each_encoder_sees_only_its_own_input():
    model = tiny_model(RGBD)
    batch, other = make_batch(), make_batch(seed=2)
    swapped = {**batch, "depth": other["depth"]}
    for a, b in zip(model.encode(batch)["rgb"], model.encode(swapped)["rgb"], strict=True):
        torch.testing.assert_close(a, b)


def test_zeroing_a_modality_drops_it_at_every_scale():
    model = tiny_model(RGBD)
    batch, other = make_batch(), make_batch(seed=2)
    feats, swapped = model.encode(batch), model.encode({**batch, "depth": other["depth"]})
    assert all(torch.count_nonzero(z) == 0 for z in model.zero_features(feats["depth"]))
    torch.testing.assert_close(model.fuse_alone(feats, "rgb"), model.fuse_alone(swapped, "rgb"))
    assert not torch.allclose(model.fuse(feats), model.fuse(swapped))


def test_the_loss_ignores_unlabelled_pixels():
    model, batch = tiny_model(RGBD), make_batch()
    logits, label = model(batch), batch["label"]
    labelled = label != IGNORE_INDEX
    expected = F.cross_entropy(logits.permute(0, 2, 3, 1)[labelled], label[labelled])
    torch.testing.assert_close(model.loss(logits, label), expected)
    shifted = logits + 5.0 * (~labelled)[:, None] * torch.randn_like(
        logits
    )  # change only unlabelled pixels
    torch.testing.assert_close(model.loss(shifted, label), expected)


def test_image_sides_must_be_multiples_of_4():
    batch = make_batch()
    batch["rgb"] = batch["rgb"][..., :30]
    with pytest.raises(ValueError, match="multiples of 4"):
        tiny_model(RGBD).encode(batch)


def test_segmentation_takes_the_segmenter_fusions_only():
    with pytest.raises(ConfigError, match="What to do: use fusion esanet"):
        build_model(RGBD, "film", width=4)
    with pytest.raises(ConfigError, match="segments RGB-D images"):
        build_model(AUDIO_VISUAL, "esanet", width=4)


@pytest.mark.parametrize("fusion, skip_layers", [("esanet", 3), ("esanet_raw_skips", 0)])
def test_normalised_skips_pass_each_fused_map_through_a_1x1_conv_bn_relu(fusion, skip_layers):
    model = build_model(RGBD, fusion, width=4)
    stages = model.fusion.decoder
    convs = [s.skip[0] for s in stages if isinstance(s.skip, torch.nn.Sequential)]
    assert len(convs) == skip_layers and all(c.kernel_size == (1, 1) for c in convs)
    unimodal = model.unimodal_head("rgb").decoder.decoder
    assert [type(s.skip) for s in unimodal] == [
        type(s.skip) for s in stages
    ]  # the baseline decoder matches


# ----------------------------------------------------------------------------- training steps
# (DGL's routing and batch-norm statistics on the segmenter are checked in test_routing.py)


CLASSIFICATION_ONLY = (
    "mla",
)  # one linear head shared by feature vectors (pmr refuses at its epoch hook)


def test_a_classification_only_method_refuses_the_segmenter_with_a_clear_error():
    with pytest.raises(ConfigError, match="mla needs a classifier"):
        METHODS.get("mla")().setup(tiny_model(RGBD))


@pytest.mark.parametrize("method", [m for m in METHODS.names() if m not in CLASSIFICATION_ONLY])
def test_every_method_trains_the_segmenter_running_each_encoder_once(method):
    model, batch = tiny_model(RGBD), make_batch()
    algo = tiny_models.with_alpha(method, ALPHA)
    algo.setup(model)
    calls = dict.fromkeys(model.modalities, 0)
    for m in model.modalities:
        model.encoders[m].register_forward_hook(lambda *_, m=m: calls.__setitem__(m, calls[m] + 1))
    before = copy.deepcopy(model.encoders)
    losses = algo.train_step(model, batch, torch.optim.SGD(algo.param_groups(model, 0.1)))
    assert calls == dict.fromkeys(model.modalities, 1)
    assert losses and all(torch.isfinite(torch.tensor(v)) for v in losses.values())
    for m in model.modalities:
        assert not torch.equal(
            model.encoders[m].backbone.conv1.weight, before[m].backbone.conv1.weight
        )


# ----------------------------------------------------------------------------- settings and a run


def test_nyuv2_full_is_the_papers_setting():
    values = training_settings("nyuv2", "full")
    assert set(values) == set(TRAIN_DEFAULTS)
    assert (values["optimizer"], values["lr"], values["batch_size"], values["epochs"]) == (
        "adam",
        1e-2,
        8,
        300,
    )
    assert values["width"] == 64


def test_the_optimizer_is_a_setting():
    model = tiny_model(RGBD)
    algo = METHODS.get("dgl")()
    config = SimpleNamespace(**training_settings("nyuv2", "full"), device="cpu")
    assert isinstance(build_optimizer(algo, model, config), torch.optim.Adam)
    config.optimizer = "lbfgs"
    with pytest.raises(ValueError, match="unknown optimizer .lbfgs.; use one of: sgd, adam"):
        build_optimizer(algo, model, config)


class TinyRGBD(Dataset):
    """Four random 32x32 RGB-D images per split, some pixels unlabelled."""

    def __init__(self, split: str, profile: str = "smoke", data_root=None, seed: int = 0) -> None:
        self.info = RGBD
        batch = make_batch(n=4, seed=seed + ("train", "val", "test").index(split))
        self.items = [
            {
                "rgb": batch["rgb"][i].float(),
                "depth": batch["depth"][i].float(),
                "label": batch["label"][i],
                "id": f"{split}{i}",
            }
            for i in range(4)
        ]

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, i: int) -> dict:
        return self.items[i]


@pytest.fixture
def tiny_rgbd(monkeypatch):
    """Register TinyRGBD as the dataset "tiny_rgbd", with nyuv2's training settings, for one test."""
    if "tiny_rgbd" not in DATASETS:
        DATASETS.register("tiny_rgbd")(TinyRGBD)
    monkeypatch.setitem(TRAINING, "tiny_rgbd", TRAINING["nyuv2"])


@pytest.mark.parametrize("method", ["dgl", "unimodal"])
def test_a_smoke_run_writes_miou_and_pixel_accuracy_per_head(tiny_rgbd, tmp_path, method):
    metrics = train(
        TrainConfig(
            dataset="tiny_rgbd", method=method, profile="smoke", out=tmp_path, progress=False
        )
    )
    assert json.loads(json.dumps(metrics)) == json.loads((tmp_path / "metrics.json").read_text())
    assert metrics["metric"] == "miou" and metrics["linear_probe"] is None
    for key in ("test_score", "val_score", "test_pixel_accuracy", "val_pixel_accuracy"):
        assert list(metrics[key]) == ["multimodal", "rgb", "depth"]
        for head, value in metrics[key].items():
            assert (value is None) == (method == "unimodal" and head == "multimodal")
            assert value is None or 0.0 <= value <= 1.0
    with (tmp_path / "history.csv").open(newline="") as f:
        row = next(csv.DictReader(f))
    assert {"val_rgb", "val_rgb/pixel_accuracy", "val_depth/pixel_accuracy"} <= set(row)


def test_a_cached_run_is_named_by_its_resolved_fusion():
    from dglnb.train import cache

    folder = cache.cached_run_dir(TrainConfig(dataset="rgbd_scenes", method="dgl", profile="smoke"))
    assert folder.name.startswith("rgbd_scenes-esanet-dgl-seed0-")
