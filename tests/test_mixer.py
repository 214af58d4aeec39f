"""MLP-Mixer fusion of three sequence modalities: mixing along each axis, zeroing, the methods, the
embedded sequence benchmark, MOSI through the command line, and the error on data it does not fit.
(DGL's gradient routing on the mixer is checked with the other fusions in test_routing.py.)"""

from __future__ import annotations

import pytest
import torch

from dglnb.cli import main
from dglnb.data import DatasetInfo, load_dataset
from dglnb.errors import ConfigError
from dglnb.methods import METHODS
from dglnb.models import build_model
from dglnb.models.mixer import AxisMLP, MixerClassifier
from fixtures.mosi import make_mosi
from tiny_models import SEQUENCES3, THREE, VECTORS, grads, make_batch, one_step, tiny_model


@pytest.mark.parametrize("axis", [1, 2, 3])
def test_axis_mlp_mixes_along_its_axis_only(axis):
    """x + MLP(LayerNorm(x)) with the MLP applied to every 1-D slice along ``axis``, by an explicit loop."""
    torch.manual_seed(0)
    x = torch.randn(2, 5, 3, 4, dtype=torch.float64)
    mix = AxisMLP(x.shape[axis], 4, axis).double()
    normed = mix.norm(x)
    expected = x.clone()
    for index in torch.cartesian_prod(
        *[torch.arange(n) for i, n in enumerate(x.shape) if i != axis]
    ):
        where = list(index.tolist())
        where.insert(axis, slice(None))
        expected[tuple(where)] += mix.mlp(normed[tuple(where)])
    torch.testing.assert_close(mix(x), expected)


def test_mixing_across_modalities_lets_one_modality_change_another_s_slice():
    torch.manual_seed(0)
    x = torch.randn(2, 5, 3, 4)
    y = x.clone()
    y[:, :, 2] = torch.randn(2, 5, 4)
    for axis, crosses in ((1, False), (2, True), (3, False)):
        mix = AxisMLP(x.shape[axis], 4, axis)
        assert torch.allclose(mix(x)[:, :, 0], mix(y)[:, :, 0]) != crosses


def test_a_unimodal_path_depends_on_its_own_input_only():
    model, batch = tiny_model(SEQUENCES3, "mlp_mixer"), make_batch(SEQUENCES3)
    other = dict(
        batch, visual=torch.randn_like(batch["visual"]), text=torch.randn_like(batch["text"])
    )
    torch.testing.assert_close(
        model(batch, zero=["visual", "text"]), model(other, zero=["visual", "text"])
    )
    assert not torch.allclose(model(batch), model(other))
    loss_audio = model.loss(model(batch, zero=["visual", "text"]), batch["label"])
    assert all(
        torch.equal(g, torch.zeros_like(g))
        for g in grads(loss_audio, model.encoder_parameters("text"))
    )


def test_zeroing_sets_the_modality_s_slice_of_the_cube_to_zero():
    model, batch = tiny_model(SEQUENCES3, "mlp_mixer"), make_batch(SEQUENCES3)
    feats = model.encode(batch)
    assert {m: tuple(z.shape) for m, z in feats.items()} == {m: (6, 5, 8) for m in model.modalities}
    expected = model.fusion(
        {m: z if m == "text" else torch.zeros_like(z) for m, z in feats.items()}
    )
    torch.testing.assert_close(model.fuse_alone(feats, "text"), expected)


@pytest.mark.parametrize("method", METHODS.names())
def test_every_method_trains_the_mixer(method):
    model, batch = tiny_model(SEQUENCES3, "mlp_mixer"), make_batch(SEQUENCES3)
    losses, before = one_step(method, model, batch)
    assert losses and all(v > 0 for v in losses.values())
    for m in model.modalities:
        assert not torch.equal(model.encoders[m].net[0].weight, before.encoders[m].net[0].weight)


def test_dgl_returns_one_unimodal_loss_per_modality():
    model, batch = tiny_model(SEQUENCES3, "mlp_mixer"), make_batch(SEQUENCES3)
    losses = METHODS.get("dgl")().train_step(
        model, batch, torch.optim.SGD(model.parameters(), lr=0.1)
    )
    assert set(losses) == {"loss_multi", "loss_audio", "loss_visual", "loss_text"}


def test_the_probe_and_the_unimodal_head_read_the_time_averaged_features():
    model, batch = tiny_model(SEQUENCES3, "mlp_mixer"), make_batch(SEQUENCES3)
    feats = model.encode(batch)
    for m, z in model.modality_features(batch).items():
        torch.testing.assert_close(z, feats[m].mean(dim=1))
        head = model.unimodal_head(m).double()
        torch.testing.assert_close(head(feats[m]), head.linear(z))


@pytest.mark.parametrize(
    ("info", "has"),
    [
        (VECTORS, "2 modalities (audio: vector (6,), visual: vector (4,))"),
        (THREE, "3 modalities (audio: vector (6,), visual: sequence (3, 5), text: vector (7,))"),
        (
            DatasetInfo(
                "uneven",
                SEQUENCES3.modalities,
                SEQUENCES3.kinds,
                4,
                shapes={"audio": (5, 3), "visual": (6, 4), "text": (5, 6)},
            ),
            "visual: sequence (6, 4)",
        ),
    ],
)
def test_the_mixer_on_data_it_does_not_fit_is_a_clear_error(info, has):
    with pytest.raises(
        ConfigError,
        match=r"mlp_mixer fusion mixes three sequence modalities of equal length.*"
        + has.replace("(", r"\(").replace(")", r"\)")
        + ".*mosi.*synthetic_seq3",
    ):
        build_model(info, "mlp_mixer")


def test_synthetic_seq3_is_noisy_repeated_observations_of_one_vector_per_modality():
    seq = load_dataset("synthetic_seq3", "val", profile="smoke")
    assert seq.info.modalities == ("easy", "mid", "weak")
    assert seq.info.kinds == dict.fromkeys(seq.info.modalities, "sequence")
    assert seq.info.shapes == dict.fromkeys(seq.info.modalities, (4, 64))
    for m in seq.info.modalities:
        step_noise = seq.inputs[m] - seq.inputs[m].mean(dim=1, keepdim=True)
        assert (
            abs(float(step_noise.std() * (4 / 3) ** 0.5) - 0.125) < 0.01
        )  # fresh noise at every step
    again = load_dataset("synthetic_seq3", "val", profile="smoke")
    assert all(torch.equal(seq.inputs[m], again.inputs[m]) for m in seq.info.modalities)
    train = load_dataset("synthetic_seq3", "train", profile="smoke")
    assert not torch.equal(seq.inputs["easy"][:4], train.inputs["easy"][:4])
    assert isinstance(build_model(seq.info, "mlp_mixer", hidden=8), MixerClassifier)


def test_mosi_trains_with_the_mixer_through_the_cli(tmp_path):
    make_mosi(tmp_path / "mosi")
    assert (
        main(
            [
                "train",
                "--dataset",
                "mosi",
                "--data-root",
                str(tmp_path / "mosi"),
                "--method",
                "dgl",
                "--fusion",
                "mlp_mixer",
                "--profile",
                "smoke",
                "--no-progress",
                "--out",
                str(tmp_path / "run"),
            ]
        )
        == 0
    )
    assert (tmp_path / "run" / "metrics.json").is_file()


def test_a_two_modality_dataset_with_the_mixer_is_one_line_on_the_cli(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(
            [
                "train",
                "--dataset",
                "synthetic",
                "--method",
                "dgl",
                "--fusion",
                "mlp_mixer",
                "--profile",
                "smoke",
                "--no-progress",
                "--out",
                str(tmp_path / "run"),
            ]
        )
    assert exit_.value.code == 2
    assert capsys.readouterr().err.startswith(
        "dglnb: error: mlp_mixer fusion mixes three sequence modalities"
    )
