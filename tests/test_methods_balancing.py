"""The comparison methods of Table 1, each against a hand computation of its own mechanism:
OGM's coefficient and which gradient it scales, PMR's prototypes and prototype loss, AGM's
Shapley logits and coefficients, G-Blending's weights from loss curves."""

from __future__ import annotations

import csv
import json
import math

import pytest
import torch
import torch.nn.functional as F

from dglnb.cli import main
from dglnb.config import TrainConfig
from dglnb.errors import ConfigError
from dglnb.methods import METHODS
from dglnb.methods.agm import shapley_logits
from dglnb.methods.base import true_class_probability
from dglnb.methods.gblending import LossCurve, blending_weights, mean_loss
from dglnb.train import resolve, train
from tiny_models import AUDIO_VISUAL, THREE, VECTORS, grads, make_batch, tiny_model


def history(out):
    with (out / "history.csv").open(newline="") as f:
        return list(csv.DictReader(f))


def vanilla_grads(model, batch):
    return grads(F.cross_entropy(model(batch), batch["label"]), list(model.parameters()))


def grads_by_name(model, values):
    return dict(zip([name for name, _ in model.named_parameters()], values, strict=True))


def current_grads(model):
    return {name: p.grad for name, p in model.named_parameters()}


# ----------------------------------------------------------------------------- OGM-GE


def hand_ogm_coefficients(model, batch, alpha):
    """OGM's rule written out for a two-modality concat head: u_m = z_m W_m^T + b/2, s_m = sum_i softmax(u_m)[y_i]."""
    with torch.no_grad():
        z = model.encode(batch)
        head = model.fusion.head
        d_audio = z["audio"].shape[1]
        w = {"audio": head.weight[:, :d_audio], "visual": head.weight[:, d_audio:]}
        s = {
            m: float(
                sum(
                    torch.softmax(z[m] @ w[m].T + head.bias / 2, dim=1)[i, y]
                    for i, y in enumerate(batch["label"])
                )
            )
            for m in ("audio", "visual")
        }
    dominant, other = ("audio", "visual") if s["audio"] > s["visual"] else ("visual", "audio")
    return {dominant: 1 - math.tanh(alpha * s[dominant] / s[other]), other: 1.0}, dominant


def test_ogm_coefficient_is_one_minus_tanh_of_alpha_times_the_confidence_ratio_for_the_dominant_modality():
    model, batch = tiny_model(VECTORS), make_batch(VECTORS)
    expected, dominant = hand_ogm_coefficients(model, batch, alpha=0.5)
    algo = METHODS.get("ogm")(modulation_alpha=0.5)
    with torch.no_grad():
        coeffs = algo.coefficients(algo.unimodal_logits(model, model.encode(batch)), batch["label"])
    assert coeffs == pytest.approx(expected, rel=1e-12)
    assert coeffs[dominant] < 1 and sum(k == 1.0 for k in coeffs.values()) == 1


def test_ogm_with_three_modalities_compares_each_with_the_least_confident():
    """One sample, two classes, label 0: s_m = sigmoid(x_m) for logits (x_m, 0)."""
    logits = {
        m: torch.tensor([[math.log(odds), 0.0]], dtype=torch.float64)
        for m, odds in (("audio", 1), ("visual", 3), ("text", 7))
    }  # s = 1/2, 3/4, 7/8
    coeffs = METHODS.get("ogm")(modulation_alpha=0.5).coefficients(logits, torch.tensor([0]))
    assert coeffs == pytest.approx(
        {"audio": 1.0, "visual": 1 - math.tanh(0.5 * 1.5), "text": 1 - math.tanh(0.5 * 1.75)},
        rel=1e-12,
    )


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_ogm_scales_only_the_dominant_encoder_gradient_and_adds_no_noise(seed):
    model, batch = tiny_model(VECTORS, seed=seed), make_batch(VECTORS)
    expected = grads_by_name(model, vanilla_grads(model, batch))
    coeffs, dominant = hand_ogm_coefficients(model, batch, alpha=0.5)
    METHODS.get("ogm")(modulation_alpha=0.5).compute_gradients(model, batch)
    for name, g in current_grads(model).items():
        factor = coeffs[dominant] if name.startswith(f"encoders.{dominant}.") else 1.0
        torch.testing.assert_close(g, expected[name] * factor, rtol=1e-12, atol=0, msg=name)


def test_ogm_ge_adds_gaussian_noise_with_each_gradient_tensors_std_to_every_encoder():
    model, batch = tiny_model(VECTORS), make_batch(VECTORS)
    expected = grads_by_name(model, vanilla_grads(model, batch))
    coeffs, _ = hand_ogm_coefficients(model, batch, alpha=0.5)
    torch.manual_seed(7)
    METHODS.get("ogm_ge")(modulation_alpha=0.5).compute_gradients(model, batch)
    torch.manual_seed(
        7
    )  # the noise drawn in the model's order: modality by modality, parameter by parameter
    for m in model.modalities:
        for name, p in model.encoders[m].named_parameters():
            g = expected[f"encoders.{m}.{name}"]
            noisy = g * coeffs[m] + torch.randn_like(g) * (g.std() + 1e-8)
            torch.testing.assert_close(p.grad, noisy, rtol=1e-12, atol=1e-15)
            assert not torch.allclose(p.grad, g * coeffs[m])
    for name, p in model.fusion.named_parameters():
        assert torch.equal(p.grad, expected[f"fusion.{name}"])


def test_ogm_ge_outside_the_modulation_epochs_is_vanilla_training():
    model, batch = tiny_model(VECTORS), make_batch(VECTORS)
    expected = vanilla_grads(model, batch)
    algo = METHODS.get("ogm_ge")(modulation_ends=50)
    algo.on_epoch_start(51, model, {}, None)
    losses = algo.compute_gradients(model, batch)
    assert float(losses["coeff_audio"]) == float(losses["coeff_visual"]) == 1.0
    for p, g in zip(model.parameters(), expected, strict=True):
        assert torch.equal(p.grad, g)


def test_ogm_conv_only_modulates_the_convolution_weights_alone():
    model, batch = tiny_model(AUDIO_VISUAL), make_batch(AUDIO_VISUAL)
    expected = grads_by_name(model, vanilla_grads(model, batch))
    algo = METHODS.get("ogm")(modulation_alpha=0.5, conv_only=True, half_bias=False)
    coeffs = algo.coefficients(algo.unimodal_logits(model, model.encode(batch)), batch["label"])
    algo.compute_gradients(model, batch)
    ((dominant, k),) = [(m, k) for m, k in coeffs.items() if k < 1]
    for name, p in model.named_parameters():
        factor = k if name.startswith(f"encoders.{dominant}.") and p.dim() == 4 else 1.0
        torch.testing.assert_close(p.grad, expected[name] * factor, rtol=1e-12, atol=0, msg=name)


def test_ogm_half_bias_switch_chooses_between_the_split_head_and_the_zeroed_fusion():
    model, batch = tiny_model(VECTORS), make_batch(VECTORS)
    feats = model.encode(batch)
    bias = model.fusion.head.bias
    half = METHODS.get("ogm")(half_bias=True).unimodal_logits(model, feats)
    full = METHODS.get("ogm")(half_bias=False).unimodal_logits(model, feats)
    for m in model.modalities:
        torch.testing.assert_close(
            full[m], model(batch, zero=[n for n in model.modalities if n != m])
        )
        torch.testing.assert_close(half[m], full[m] - bias / 2)


def test_ogm_modulation_alpha_defaults_to_the_published_value_of_the_dataset():
    assert METHODS.get("ogm_ge")(dataset="cremad").modulation_alpha == 0.8
    assert METHODS.get("ogm_ge")(dataset="vggsound").modulation_alpha == 0.1
    assert METHODS.get("ogm_ge")(dataset="cremad", modulation_alpha=0.3).modulation_alpha == 0.3


def test_confidence_scores_leave_out_unlabelled_pixels():
    logits = torch.zeros(1, 4, 1, 3, dtype=torch.float64)
    logits[0, 2, 0, 0] = math.log(3)  # pixel 0: softmax (1, 1, 3, 1) / 6; pixel 2: uniform
    labels = torch.tensor([[[2, 255, 0]]])
    assert true_class_probability(logits, labels).tolist() == pytest.approx([0.5, 0.25], rel=1e-15)


# ----------------------------------------------------------------------------- PMR


def hand_centroids(model, batches):
    """Per modality and class, the plain mean of the encoder features of that class (zeros if absent)."""
    with torch.no_grad():
        feats = [model.encode(b) for b in batches]
    labels = torch.cat([b["label"] for b in batches])
    out = {}
    for m in model.modalities:
        z = torch.cat([f[m] for f in feats])
        out[m] = torch.stack(
            [
                z[labels == c].mean(0) if (labels == c).any() else torch.zeros(z.shape[1])
                for c in range(model.num_classes)
            ]
        ).double()
    return out


def test_pmr_prototypes_are_the_class_centroids_of_the_first_fraction_of_the_training_batches():
    model = tiny_model(VECTORS)
    batches = [make_batch(VECTORS, n=8, seed=s) for s in range(10)]
    algo = METHODS.get("pmr")(prototype_fraction=0.2)
    algo.on_epoch_start(0, model, {"train": batches}, None)
    expected = hand_centroids(model, batches[:2])
    for m in model.modalities:
        torch.testing.assert_close(algo.prototypes[m], expected[m])
    assert (
        model.training
    )  # the centroids are taken in eval mode; the hook leaves train mode as it found it


@pytest.mark.parametrize(("momentum_from", "blended_at"), [(2, {2}), (1, {1, 2})])
def test_pmr_prototypes_blend_the_new_centroids_with_the_old_with_momentum(
    momentum_from, blended_at
):
    model = tiny_model(VECTORS)
    algo = METHODS.get("pmr")(momentum=0.25, momentum_from=momentum_from)
    previous = None
    for epoch in range(3):
        batch = make_batch(VECTORS, n=40, seed=epoch)  # every class present
        algo.update_prototypes(model, [batch], epoch)
        centroids = hand_centroids(model, [batch])
        for m in model.modalities:
            expected = (
                0.75 * centroids[m] + 0.25 * previous[m] if epoch in blended_at else centroids[m]
            )
            torch.testing.assert_close(algo.prototypes[m], expected)
        previous = algo.prototypes


def test_pmr_adds_the_prototypical_cross_entropy_of_the_slower_modality_only():
    model, batch = tiny_model(VECTORS), make_batch(VECTORS)
    torch.manual_seed(3)
    prototypes = {
        m: torch.randn(VECTORS.num_classes, 8, dtype=torch.float64) for m in model.modalities
    }
    algo = METHODS.get("pmr")(modulation_alpha=0.7)
    algo.prototypes = prototypes
    feats = model.encode(batch)
    y = batch["label"]
    sims = {
        m: -((feats[m][:, None, :] - prototypes[m][None]) ** 2).sum(-1).sqrt()
        for m in model.modalities
    }
    scores = {
        m: float(sum(torch.softmax(s.detach(), dim=1)[i, c] for i, c in enumerate(y)))
        for m, s in sims.items()
    }
    slower = min(scores, key=scores.get)
    loss = F.cross_entropy(model.fuse(feats), y) + 0.7 * F.cross_entropy(sims[slower], y)
    expected = grads_by_name(model, grads(loss, list(model.parameters())))
    plain = grads_by_name(model, vanilla_grads(model, batch))
    losses = algo.compute_gradients(model, batch)
    torch.testing.assert_close(losses[f"loss_proto_{slower}"], F.cross_entropy(sims[slower], y))
    for name, g in current_grads(model).items():
        torch.testing.assert_close(g, expected[name], msg=name)
        if not name.startswith(
            f"encoders.{slower}."
        ):  # the prototype term reaches the slower encoder only
            torch.testing.assert_close(g, plain[name], msg=name)
    first_layer = f"encoders.{slower}.net.0.weight"
    assert not torch.allclose(current_grads(model)[first_layer], plain[first_layer])


def test_pmr_refuses_a_segmenter_with_a_clear_error():
    model = tiny_model(VECTORS)
    model.task = "segmentation"  # what the check reads
    with pytest.raises(ConfigError, match="pmr needs a classifier"):
        METHODS.get("pmr")().on_epoch_start(0, model, {"train": []}, None)


def test_pmr_without_prototypes_or_outside_the_modulation_epochs_is_vanilla_training():
    model, batch = tiny_model(VECTORS), make_batch(VECTORS)
    expected = vanilla_grads(model, batch)
    algo = METHODS.get("pmr")(modulation_ends=5)
    algo.on_epoch_start(6, model, {"train": [batch]}, None)
    algo.compute_gradients(model, batch)
    for p, g in zip(model.parameters(), expected, strict=True):
        assert torch.equal(p.grad, g)


# ----------------------------------------------------------------------------- AGM


@pytest.mark.parametrize(
    ("empty_coalition", "bias_share"), [("zero", 0.5), ("padded", 0.0), ("omitted", None)]
)
def test_agm_shapley_logits_of_a_linear_model(empty_coalition, bias_share):
    """Concat fusion is linear, f(z) = W_a z_a + W_v z_v + b, so phi_a is W_a z_a plus a share of b,
    except where the empty subset's term is omitted: phi_a = (f(a,v) - f(0,v)) / 2 = W_a z_a / 2."""
    model, batch = tiny_model(VECTORS), make_batch(VECTORS)
    with torch.no_grad():
        feats = model.encode(batch)
        phi = shapley_logits(model, feats, empty_coalition)
    head, d_audio = model.fusion.head, feats["audio"].shape[1]
    parts = {
        "audio": feats["audio"] @ head.weight[:, :d_audio].T,
        "visual": feats["visual"] @ head.weight[:, d_audio:].T,
    }
    for m in model.modalities:
        expected = parts[m] / 2 if bias_share is None else parts[m] + bias_share * head.bias
        torch.testing.assert_close(phi[m], expected)


@pytest.mark.parametrize(("empty_coalition", "baseline"), [("zero", False), ("padded", True)])
def test_agm_shapley_logits_of_three_modalities_add_up_to_the_fused_logits(
    empty_coalition, baseline
):
    model, batch = tiny_model(THREE, "sum"), make_batch(THREE)
    with torch.no_grad():
        feats = model.encode(batch)
        phi = shapley_logits(model, feats, empty_coalition)
        total = model.fuse(feats) - (model.fuse(feats, zero=model.modalities) if baseline else 0)
    torch.testing.assert_close(sum(phi.values()), total)


def test_agm_coefficient_compares_the_score_ratio_with_its_running_mean():
    algo = METHODS.get("agm")(modulation_alpha=0.5)
    first = algo.coefficients(
        {"audio": 1.0, "visual": 2.0}
    )  # running means start at 0: target ratio 1
    assert first == pytest.approx(
        {"audio": math.exp(0.5 * (1 - math.exp(-1))), "visual": math.exp(0.5 * (1 - math.exp(1)))},
        rel=1e-14,
    )
    second = algo.coefficients(
        {"audio": 3.0, "visual": 1.0}
    )  # target: ratios of the running means (1, 2)
    assert second == pytest.approx(
        {
            "audio": math.exp(0.5 * (math.exp(-1) - math.exp(2))),
            "visual": math.exp(0.5 * min(math.exp(1) - math.exp(-2), 7)),
        },
        rel=1e-14,
    )
    assert algo.state_dict() == {"steps": 2, "mean_scores": {"audio": 2.0, "visual": 1.5}}
    algo.mean_scores = {"audio": 0.0, "visual": 20.0}
    capped = algo.coefficients({"audio": 0.0, "visual": 0.0})["visual"]
    assert capped == math.exp(0.5 * 7)  # rbar - r is capped at 7


def test_agm_scales_each_encoders_weight_gradients_by_its_coefficient():
    model, batch = tiny_model(VECTORS), make_batch(VECTORS)
    expected = grads_by_name(model, vanilla_grads(model, batch))
    algo = METHODS.get("agm")(modulation_alpha=0.5, clip_threshold=None)
    losses = algo.compute_gradients(model, batch)
    for name, p in model.named_parameters():
        m = name.split(".")[1] if name.startswith("encoders.") else None
        factor = float(losses[f"coeff_{m}"]) if m and p.dim() > 1 else 1.0
        torch.testing.assert_close(p.grad, expected[name] * factor, rtol=1e-12, atol=0, msg=name)
    assert float(losses["coeff_audio"]) != 1.0


# ----------------------------------------------------------------------------- G-Blending

CURVES = {  # train_start, train_end, val_start, val_end
    "multimodal": LossCurve(
        1.0, 0.5, 1.5, 1.25
    ),  # G = 0.25, dO = 0.75 - 0.5 = 0.25: 0.25 / 0.0625 = 4
    "audio": LossCurve(2.0, 1.0, 2.5, 2.0),  # G = 0.5, dO = 1 - 0.5 = 0.5: 0.5 / 0.25 = 2
    "visual": LossCurve(
        1.0, 0.5, 1.0, 1.5
    ),  # G = -0.5, dO = 1 - 0 = 1: paper 0, code |G| / 1 = 0.5
}


def test_gblending_weights_are_generalization_over_squared_overfitting_normalised():
    assert blending_weights(CURVES, "paper") == {
        "multimodal": 4 / 6,
        "audio": 2 / 6,
        "visual": 0 / 6,
    }
    assert blending_weights(CURVES, "code") == {
        "multimodal": 4 / 6.5,
        "audio": 2 / 6.5,
        "visual": 0.5 / 6.5,
    }


def test_gblending_weights_are_equal_when_no_head_generalizes():
    flat = {h: LossCurve(1.0, 0.5, 1.0, 1.0) for h in ("multimodal", "audio", "visual")}
    assert blending_weights(flat, "paper") == {h: 1 / 3 for h in flat}


def test_gblending_loss_is_the_weighted_sum_of_the_head_losses():
    model, batch = tiny_model(VECTORS), make_batch(VECTORS)
    algo = METHODS.get("gblending")()
    algo.weights = {"multimodal": 0.5, "audio": 0.125, "visual": 0.375}
    y = batch["label"]
    loss = (
        0.5 * F.cross_entropy(model(batch), y)
        + 0.125 * F.cross_entropy(model(batch, zero=["visual"]), y)
        + 0.375 * F.cross_entropy(model(batch, zero=["audio"]), y)
    )
    expected = grads(loss, list(model.parameters()))
    algo.compute_gradients(model, batch)
    for p, g in zip(model.parameters(), expected, strict=True):
        torch.testing.assert_close(p.grad, g)


@pytest.mark.parametrize("estimate", ["paper", "code"])
def test_gblending_estimates_its_weights_every_super_epoch_on_copies_without_touching_the_model(
    estimate,
):
    model = tiny_model(VECTORS)
    train, val = (
        [make_batch(VECTORS, n=10, seed=s) for s in (1, 2)],
        [make_batch(VECTORS, n=10, seed=3)],
    )
    loaders = {"train": train, "train_eval": train, "val": val}
    before = {k: v.clone() for k, v in model.state_dict().items()}
    algo = METHODS.get("gblending")(super_epoch=2, estimate=estimate)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    algo.on_epoch_start(0, model, loaders, optimizer)
    weights = algo.weights
    assert set(weights) == {"multimodal", "audio", "visual"} and sum(
        weights.values()
    ) == pytest.approx(1.0)
    assert (
        all(torch.equal(model.state_dict()[k], v) for k, v in before.items())
        and not optimizer.state
    )
    algo.weights = {"multimodal": 1.0, "audio": 0.0, "visual": 0.0}
    algo.on_epoch_start(
        1, model, loaders, optimizer
    )  # not a super-epoch boundary: the weights stay
    assert algo.weights == {"multimodal": 1.0, "audio": 0.0, "visual": 0.0}
    algo.on_epoch_start(2, model, loaders, optimizer)
    assert algo.weights == weights  # same parameters, same copies' training: the same estimate


def test_gblending_paper_estimate_starts_from_the_current_parameters():
    model = tiny_model(VECTORS)
    train, val = [make_batch(VECTORS, n=10, seed=1)], [make_batch(VECTORS, n=10, seed=3)]
    algo = METHODS.get("gblending")(super_epoch=1)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05)
    curve = algo.loss_curve(
        model, "audio", {"train": train, "train_eval": train, "val": val}, optimizer
    )
    assert curve.train_start == mean_loss(model, "audio", train) and curve.val_start == mean_loss(
        model, "audio", val
    )
    assert curve.train_end < curve.train_start


# ----------------------------------------------------------------------------- runs

NEW_METHODS = ("gblending", "ogm_ge", "ogm", "pmr", "agm")


@pytest.mark.parametrize("method", NEW_METHODS)
def test_each_method_trains_through_the_cli_in_the_smoke_profile(tmp_path, capsys, method):
    main(
        [
            "train",
            "--dataset",
            "synthetic",
            "--method",
            method,
            "--profile",
            "smoke",
            "--no-progress",
            "--out",
            str(tmp_path),
        ]
    )
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics["config"]["method"] == method and metrics["test_score"]["multimodal"] is not None
    assert "wrote" in capsys.readouterr().out


def test_a_misspelt_method_name_lists_the_valid_ones(tmp_path, capsys):
    with pytest.raises(SystemExit) as stop:
        main(
            [
                "train",
                "--dataset",
                "synthetic",
                "--method",
                "ogm-ge",
                "--profile",
                "smoke",
                "--out",
                str(tmp_path),
            ]
        )
    err = capsys.readouterr().err
    assert stop.value.code == 2 and err.startswith(
        "dglnb: error: unknown method 'ogm-ge'; valid methods: agm, "
    )
    assert all(name in err for name in NEW_METHODS)


def test_method_options_reach_the_method_and_a_bad_one_is_a_config_error(tmp_path, capsys):
    main(
        [
            "train",
            "--dataset",
            "synthetic",
            "--method",
            "ogm_ge",
            "--profile",
            "smoke",
            "--no-progress",
            "--method-option",
            "modulation_ends=-1",
            "--method-option",
            "half_bias=false",
            "--out",
            str(tmp_path),
        ]
    )
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics["config"]["method_options"] == {"modulation_ends": -1, "half_bias": False}
    assert "1.0" == history(tmp_path)[0]["train_coeff_easy"]  # no modulation epoch
    with pytest.raises(
        ConfigError, match="method_options for pmr: .*unknown hyperparameters: bogus"
    ):
        resolve(TrainConfig(dataset="synthetic", method="pmr", method_options={"bogus": 1}))


@pytest.mark.parametrize(
    ("method", "options"), [("gblending", {"super_epoch": 2}), ("pmr", {}), ("agm", {})]
)
def test_a_resumed_run_equals_an_uninterrupted_one(tmp_path, method, options):
    """Cut after epoch 0: epoch 1 needs the method's state from the checkpoint (G-Blending's weights,
    PMR's prototypes, AGM's running scores), epoch 2 updates it again."""
    settings = dict(
        dataset="synthetic", method=method, profile="smoke", progress=False, method_options=options
    )
    full = train(TrainConfig(**settings, epochs=3, out=tmp_path / "full"))
    train(TrainConfig(**settings, epochs=1, out=tmp_path / "cut"))
    resumed = train(TrainConfig(**settings, epochs=3, out=tmp_path / "cut", resume=True))
    assert resumed == full
    assert history(tmp_path / "cut") == history(tmp_path / "full")
    final = [torch.load(tmp_path / run / "last.pt", weights_only=False) for run in ("full", "cut")]
    assert all(torch.equal(final[0]["model"][k], final[1]["model"][k]) for k in final[0]["model"])
