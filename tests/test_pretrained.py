"""``--pretrained PATH``: a torchvision-format ResNet18 state dict, written here, starts both RGB-D
encoders (depth: the first convolution summed over RGB, as ESANet does); a file that does not fit
names the keys at fault."""

from __future__ import annotations

import pytest
import torch

from dglnb.config import TrainConfig
from dglnb.errors import ConfigError, WeightsError
from dglnb.models import build_model
from dglnb.models.pretrained import load_pretrained_encoders
from dglnb.models.resnet import ResNet18
from dglnb.train import run as experiment
from dglnb.train import train
from tiny_models import RGBD

# A few keys exactly as torchvision's resnet18().state_dict() names them.
TORCHVISION_KEYS = (
    "conv1.weight",
    "bn1.running_var",
    "layer1.0.conv1.weight",
    "layer2.0.downsample.0.weight",
    "layer4.1.bn2.bias",
    "fc.weight",
    "fc.bias",
)


def imagenet_like_state_dict(seed: int = 0, counters: bool = True) -> dict[str, torch.Tensor]:
    """Random weights in the layout of torchvision's ResNet18 (1000-way ``fc`` included); without
    ``counters``, no ``num_batches_tracked`` entries, as in older torchvision files."""
    g = torch.Generator().manual_seed(seed)
    state = {
        k: torch.rand(v.shape, generator=g) if v.is_floating_point() else v + 7
        for k, v in ResNet18(3, 64).state_dict().items()
        if counters or not k.endswith("num_batches_tracked")
    }
    state["fc.weight"] = torch.randn(1000, 512, generator=g)
    state["fc.bias"] = torch.randn(1000, generator=g)
    assert set(TORCHVISION_KEYS) <= set(state)
    return state


@pytest.fixture
def weights_file(tmp_path):
    path = tmp_path / "resnet18.pth"
    torch.save(imagenet_like_state_dict(), path)
    return path


def segmenter(width: int = 64):
    return build_model(RGBD, "esanet", width=width)


def test_both_encoders_start_from_the_file_with_the_depth_stem_summed_over_rgb(weights_file):
    model = segmenter()
    assert load_pretrained_encoders(model, weights_file) == ["rgb", "depth"]
    state = imagenet_like_state_dict()
    rgb, depth = (
        model.encoders["rgb"].backbone.state_dict(),
        model.encoders["depth"].backbone.state_dict(),
    )
    for k, v in rgb.items():
        torch.testing.assert_close(v, state[k], rtol=0, atol=0)
    torch.testing.assert_close(
        depth["conv1.weight"], state["conv1.weight"].sum(dim=1, keepdim=True)
    )
    for k, v in depth.items():
        if k != "conv1.weight":
            torch.testing.assert_close(v, state[k], rtol=0, atol=0)


def test_a_grey_depth_image_gets_the_stem_response_of_the_rgb_network(weights_file):
    model = segmenter()
    load_pretrained_encoders(model, weights_file)
    grey = torch.rand(1, 1, 16, 16)
    rgb_conv, depth_conv = (
        model.encoders["rgb"].backbone.conv1,
        model.encoders["depth"].backbone.conv1,
    )
    torch.testing.assert_close(depth_conv(grey), rgb_conv(grey.expand(1, 3, 16, 16)))


def test_a_file_without_batch_counters_loads_and_keeps_the_models(tmp_path):
    path = tmp_path / "old.pth"
    torch.save(imagenet_like_state_dict(counters=False), path)
    model = segmenter()
    load_pretrained_encoders(model, path)
    assert model.encoders["rgb"].backbone.bn1.num_batches_tracked == 0


def test_a_partial_file_names_the_missing_keys(tmp_path):
    state = imagenet_like_state_dict()
    del state["layer4.1.conv2.weight"], state["bn1.running_mean"]
    torch.save(state, tmp_path / "partial.pth")
    with pytest.raises(
        WeightsError, match=r"missing bn1\.running_mean, layer4\.1\.conv2\.weight\. What to do"
    ):
        load_pretrained_encoders(segmenter(), tmp_path / "partial.pth")


def test_another_architecture_names_the_unexpected_and_mismatched_keys(tmp_path):
    state = imagenet_like_state_dict()
    state["layer1.2.conv1.weight"] = torch.zeros(64, 64, 3, 3)  # a third block: ResNet34's layout
    state["layer1.0.conv1.weight"] = torch.zeros(64, 64, 1, 1)
    torch.save(state, tmp_path / "other.pth")
    with pytest.raises(WeightsError) as error:
        load_pretrained_encoders(segmenter(), tmp_path / "other.pth")
    message = str(error.value)
    assert "unexpected layer1.2.conv1.weight" in message
    assert (
        "mismatched (file vs model) layer1.0.conv1.weight (64, 64, 1, 1) vs (64, 64, 3, 3)"
        in message
    )


def test_a_narrow_model_is_told_to_use_width_64(weights_file):
    with pytest.raises(
        WeightsError,
        match=r"and \d+ more\. What to do: train at width 64 \(this model's ResNet18 "
        r"has width 8\)",
    ):
        load_pretrained_encoders(segmenter(width=8), weights_file)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"not a checkpoint", "are unreadable"),
        (None, "hold a list, not a state dict of tensors"),
    ],
)
def test_a_file_that_is_no_state_dict_says_so(tmp_path, content, message):
    path = tmp_path / "bad.pth"
    if content is None:
        torch.save([torch.zeros(1)], path)
    else:
        path.write_bytes(content)
    with pytest.raises(WeightsError, match=message):
        load_pretrained_encoders(segmenter(), path)


def test_a_missing_file_is_refused_before_the_run_starts(tmp_path):
    config = TrainConfig(
        dataset="synthetic",
        method="dgl",
        profile="smoke",
        pretrained=tmp_path / "none.pth",
        out=tmp_path / "run",
        progress=False,
    )
    with pytest.raises(ConfigError, match="pretrained must be an existing file"):
        train(config)
    assert not (tmp_path / "run").exists()


def test_a_run_loads_the_file_and_stops_with_its_error(weights_file, tmp_path):
    config = TrainConfig(
        dataset="synthetic",
        method="dgl",
        profile="smoke",
        pretrained=weights_file,
        out=tmp_path / "run",
        progress=False,
    )
    with pytest.raises(WeightsError, match="the model has no ResNet18 encoder"):
        train(config)


def test_a_run_at_width_64_starts_from_the_file(weights_file, tmp_path, monkeypatch):
    loaded = []
    monkeypatch.setattr(
        experiment,
        "load_pretrained_encoders",
        lambda model, path: loaded.append(load_pretrained_encoders(model, path)),
    )
    train(
        TrainConfig(
            dataset="rgbd_scenes",
            method="dgl",
            profile="smoke",
            width=64,
            pretrained=weights_file,
            out=tmp_path / "run",
            progress=False,
        )
    )
    assert loaded == [["rgb", "depth"]]
