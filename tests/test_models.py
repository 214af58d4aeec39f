"""Encoders, fusion modules and the classifier's zeroing and parameter groups."""

from __future__ import annotations

import pytest
import torch

from dglnb.models import FUSIONS, build_model
from dglnb.models.encoders import (
    ConvEncoder,
    FramesEncoder,
    MLPEncoder,
    SequenceEncoder,
    build_encoder,
)
from dglnb.models.resnet import ResNet18
from dglnb.registry import UnknownNameError
from tiny_models import AUDIO_VISUAL, CONFIG_IDS, CONFIGS, THREE, VECTORS, make_batch, tiny_model


def torchvision_resnet18_shapes(in_channels: int = 3) -> dict[str, tuple[int, ...]]:
    """torchvision's resnet18 state-dict layout without ``fc``, written out from its architecture."""
    shapes: dict[str, tuple[int, ...]] = {"conv1.weight": (64, in_channels, 7, 7)}

    def bn(prefix: str, c: int) -> None:
        shapes.update(
            {f"{prefix}.{k}": (c,) for k in ("weight", "bias", "running_mean", "running_var")}
        )
        shapes[f"{prefix}.num_batches_tracked"] = ()

    bn("bn1", 64)
    c_in = 64
    for layer, c in enumerate((64, 128, 256, 512), start=1):
        for block in (0, 1):
            p = f"layer{layer}.{block}"
            shapes[f"{p}.conv1.weight"] = (c, c_in if block == 0 else c, 3, 3)
            bn(f"{p}.bn1", c)
            shapes[f"{p}.conv2.weight"] = (c, c, 3, 3)
            bn(f"{p}.bn2", c)
            if block == 0 and c != c_in:
                shapes[f"{p}.downsample.0.weight"] = (c, c_in, 1, 1)
                bn(f"{p}.downsample.1", c)
        c_in = c
    return shapes


def test_resnet18_state_dict_matches_torchvision_layout():
    expected = torchvision_resnet18_shapes()
    assert len(expected) == 122 - 2  # torchvision's resnet18 has 122 entries, 2 of them fc
    assert expected["layer2.0.downsample.0.weight"] == (128, 64, 1, 1)
    assert expected["layer4.1.conv2.weight"] == (512, 512, 3, 3)
    net = ResNet18(in_channels=3, width=64)
    assert {k: tuple(v.shape) for k, v in net.state_dict().items()} == expected


def test_torchvision_style_state_dict_loads_strictly():
    pretrained = {
        k: torch.randn(s) if s else torch.tensor(7)
        for k, s in torchvision_resnet18_shapes(1).items()
    }
    net = ResNet18(in_channels=1, width=64)
    net.load_state_dict(pretrained, strict=True)
    assert torch.equal(net.layer3[1].bn2.running_var, pretrained["layer3.1.bn2.running_var"])


@pytest.mark.parametrize("width", [8, 16, 64])
def test_resnet18_width_multiplier(width):
    net = ResNet18(in_channels=2, width=width)
    out = net(torch.randn(2, 2, 64, 96))
    assert net.out_dim == 8 * width
    assert out.shape == (2, 8 * width, 2, 3)


@pytest.mark.parametrize(
    ("kind", "shape"),
    [
        ("spectrogram", (1, 40, 48)),
        ("image", (4, 32, 32)),
        ("frames", (3, 3, 32, 32)),
        ("vector", (10,)),
        ("sequence", (7, 10)),
    ],
)
def test_every_encoder_kind_gives_batch_by_out_dim(kind, shape):
    enc = build_encoder(kind, shape, width=8, hidden=12)
    out = enc(torch.randn(2, *shape))
    assert out.shape == (2, enc.out_dim)
    assert enc.out_dim == (64 if kind in ("spectrogram", "image", "frames") else 12)


def test_frames_encoder_averages_per_frame_features():
    frames, image = FramesEncoder(3, width=8).eval(), ConvEncoder(3, width=8).eval()
    image.load_state_dict(frames.state_dict())
    x = torch.randn(2, 3, 4, 32, 32)
    per_frame = torch.stack([image(x[:, :, t]) for t in range(4)]).mean(dim=0)
    torch.testing.assert_close(frames(x), per_frame)


def test_sequence_encoder_is_the_mlp_on_the_time_mean():
    seq, mlp = SequenceEncoder(5, hidden=8), MLPEncoder(5, hidden=8)
    mlp.load_state_dict(seq.state_dict())
    x = torch.randn(3, 9, 5)
    torch.testing.assert_close(seq(x), mlp(x.mean(dim=1)))


def test_encoder_errors_are_clear():
    with pytest.raises(ValueError, match="unknown input kind 'audio'.*spectrogram"):
        build_encoder("audio", (1, 8, 8))
    with pytest.raises(ValueError, match="needs the per-sample shape"):
        build_encoder("vector")


def test_fusion_registry_and_unknown_fusion_lists_valid_names():
    assert {"concat", "sum", "film", "gated"} <= set(FUSIONS.names())
    with pytest.raises(UnknownNameError, match="valid fusions: .*concat.*film.*gated.*sum"):
        build_model(VECTORS, "bilinear")


@pytest.mark.parametrize("fusion", ["film", "gated"])
def test_film_and_gated_take_exactly_two_modalities(fusion):
    with pytest.raises(ValueError, match=f"{fusion} fusion takes exactly two modalities, got 3"):
        build_model(THREE, fusion)


@pytest.mark.parametrize(("info", "fusion"), CONFIGS, ids=CONFIG_IDS)
def test_logits_shape_and_parameter_groups_are_disjoint_and_cover(info, fusion):
    model = tiny_model(info, fusion)
    assert model(make_batch(info, n=3)).shape == (3, info.num_classes)
    groups = [model.encoder_parameters(m) for m in model.modalities] + [model.fusion_parameters()]
    ids = [id(p) for group in groups for p in group]
    assert all(groups)
    assert len(ids) == len(set(ids))  # disjoint
    assert set(ids) == {id(p) for p in model.parameters()}  # covering


def test_fusion_parameters_include_the_classifier_head():
    model = build_model(VECTORS, "concat", hidden=8)
    assert [tuple(p.shape) for p in model.fusion_parameters()] == [(5, 16), (5,)]


@pytest.mark.parametrize(("info", "fusion"), CONFIGS, ids=CONFIG_IDS)
def test_zeroing_replaces_representations_with_zeros(info, fusion):
    model = tiny_model(info, fusion)
    batch = make_batch(info)
    feats = model.encode(batch)
    kept = {m: z.clone() for m, z in feats.items()}
    first, *others = model.modalities
    expected = model.fusion(
        {m: feats[m] if m == first else torch.zeros_like(feats[m]) for m in model.modalities}
    )
    torch.testing.assert_close(model.fuse(feats, zero=others), expected)
    torch.testing.assert_close(model.fuse_alone(feats, first), expected)
    torch.testing.assert_close(model(batch, zero=others), expected)
    assert all(torch.equal(feats[m], kept[m]) for m in feats)  # inputs are not modified
    assert not torch.allclose(model.fuse(feats), expected)


def test_zeroed_concat_is_the_head_restricted_to_the_kept_modality():
    """Eq. 11-12: W [z_a; 0] + b = W^a z_a + b."""
    model = tiny_model(VECTORS, "concat")
    feats = model.encode(make_batch(VECTORS))
    head = model.fusion.head
    d_a = feats["audio"].shape[1]
    expected = feats["audio"] @ head.weight[:, :d_a].T + head.bias
    torch.testing.assert_close(model.fuse(feats, zero=["visual"]), expected)


def test_zeroing_an_unknown_modality_is_an_error():
    model = tiny_model(VECTORS)
    with pytest.raises(ValueError, match=r"unknown modalities \['depth'\].*audio, visual"):
        model(make_batch(VECTORS), zero=["depth"])
    with pytest.raises(ValueError, match="unknown modality 'depth'"):
        model.encoder_parameters("depth")


def test_encoders_of_an_audio_visual_model():
    model = build_model(AUDIO_VISUAL, "concat", width=16)
    assert model.modalities == ("audio", "visual")
    assert model.encoders["audio"].backbone.conv1.weight.shape == (16, 1, 7, 7)
    assert model.encoders["visual"].backbone.conv1.weight.shape == (16, 3, 7, 7)
    assert [e.out_dim for e in model.encoders.values()] == [128, 128]


def test_initialisation_follows_the_documented_scheme():
    model = build_model(AUDIO_VISUAL, "concat", width=8)
    bn = model.encoders["audio"].backbone.bn1
    assert torch.equal(bn.weight, torch.ones_like(bn.weight)) and torch.equal(
        bn.bias, torch.zeros_like(bn.bias)
    )
    assert torch.equal(model.fusion.head.bias, torch.zeros(3))
    batch = make_batch(AUDIO_VISUAL)
    assert torch.isfinite(model({m: batch[m].float() for m in model.modalities})).all()
