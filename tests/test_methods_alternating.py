"""MLA, MMPareto and D&R: each mechanism against a hand computation (float64), their runs end to end."""

from __future__ import annotations

import copy
import json
import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from dglnb.cli import main
from dglnb.config import TrainConfig
from dglnb.methods import METHODS
from dglnb.methods.dnr import cluster_purity, purity, reinit_weight
from dglnb.methods.mla import entropy_weights, owm_update
from dglnb.methods.mmpareto import min_norm_weights, pareto_weights
from dglnb.models import MultimodalClassifier
from dglnb.models.fusion import ConcatFusion
from dglnb.train import train
from tiny_models import VECTORS, grads, make_batch, tiny_model

f64 = dict(dtype=torch.float64)


# ----------------------------------------------------------------------------- MMPareto


def test_min_norm_weights_of_two_conflicting_gradients_are_the_closed_form():
    g1, g2 = (
        torch.tensor([1.0, 0.0], **f64),
        torch.tensor([-1.0, 2.0], **f64),
    )  # g1.g2 = -1: conflict
    w1, w2 = min_norm_weights(g1, g2)
    assert (w1, w2) == pytest.approx(
        (0.75, 0.25), abs=1e-15
    )  # (|g2|^2 - g1.g2) / |g1 - g2|^2 = 6 / 8
    d = w1 * g1 + w2 * g2  # the min-norm point [0.5, 0.5] is orthogonal to g1 - g2 ...
    assert float(d @ (g1 - g2)) == pytest.approx(0.0, abs=1e-15)
    assert (
        float(d @ g1) > 0 and float(d @ g2) > 0
    )  # ... and a descent direction common to both losses
    assert pareto_weights(g1, g2) == (w1, w2)
    assert pareto_weights(g1, torch.tensor([1.0, 2.0], **f64)) == (
        0.5,
        0.5,
    )  # no conflict: equal weights


@pytest.mark.parametrize("rescale", ["tensor", "encoder"])
def test_mmpareto_direction_and_magnitude_by_hand(rescale):
    # one encoder with two parameter tensors; whole-encoder gradients conflict (dot = -1 - 0.5)
    g_mm = [torch.tensor([1.0, 0.0], **f64), torch.tensor([1.0], **f64)]
    g_u = [torch.tensor([-1.0, 2.0], **f64), torch.tensor([-0.5], **f64)]
    v11, v12, v22 = 2.0, -1.5, 5.25
    w = (v22 - v12) / (v11 + v22 - 2 * v12)
    new = [2 * (w * a + (1 - w) * b) for a, b in zip(g_mm, g_u)]
    total = [a + b for a, b in zip(g_mm, g_u)]  # [0, 2] and [0.5]
    norm = lambda ts: math.sqrt(sum(float(t @ t) for t in ts))  # noqa: E731
    if (
        rescale == "tensor"
    ):  # each tensor stretched to its summed gradient's norm when that is longer
        factors = [max(1.0, norm([s]) / norm([n])) for n, s in zip(new, total)]
    else:
        factors = [max(1.0, norm(total) / norm(new))] * 2
    expected = [1.5 * f * n for f, n in zip(factors, new)]
    result = METHODS.get("mmpareto")(rescale=rescale).integrate(g_mm, g_u)
    for r, e in zip(result, expected, strict=True):
        torch.testing.assert_close(r, e, rtol=1e-14, atol=0)
    if (
        rescale == "encoder"
    ):  # the min-norm point is never longer than the mean: gamma * |g_sum| exactly
        assert norm(result) == pytest.approx(1.5 * norm(total), rel=1e-14)


@pytest.mark.parametrize("unimodal_logits", ["separate", "zeroed"])
def test_mmpareto_step_integrates_encoder_gradients_and_leaves_heads_plain(unimodal_logits):
    model, batch = tiny_model(VECTORS), make_batch(VECTORS)
    algo = METHODS.get("mmpareto")(unimodal_logits=unimodal_logits)
    algo.setup(model)
    feats, y = model.encode(batch), batch["label"]
    loss_multi = F.cross_entropy(model.fuse(feats), y)
    unimodal = {
        m: F.cross_entropy(
            model.unimodal_heads[m](feats[m])
            if unimodal_logits == "separate"
            else model(batch, zero=[n for n in model.modalities if n != m]),
            y,
        )
        for m in model.modalities
    }
    expected = {}
    for m in model.modalities:
        params = model.encoder_parameters(m)
        expected[m] = algo.integrate(grads(loss_multi, params), grads(unimodal[m], params))
    heads = [
        p
        for p in model.parameters()
        if all(p is not q for m in model.modalities for q in model.encoder_parameters(m))
    ]
    head_grads = grads(loss_multi + sum(unimodal.values()), heads)
    algo.compute_gradients(model, batch)
    for m in model.modalities:
        for p, g in zip(model.encoder_parameters(m), expected[m], strict=True):
            torch.testing.assert_close(p.grad, g)
    for p, g in zip(heads, head_grads, strict=True):
        torch.testing.assert_close(p.grad, g)


# ----------------------------------------------------------------------------- MLA


def test_owm_update_by_hand_leaves_the_mean_feature_almost_unchanged_by_a_step():
    P, r, alpha = torch.eye(3, **f64), torch.tensor([1.0, 2.0, 2.0], **f64), 0.1  # |r|^2 = 9
    projected = owm_update(P, r, alpha)
    torch.testing.assert_close(
        projected, torch.eye(3, **f64) - torch.outer(r, r) / 9.1, rtol=0, atol=1e-15
    )
    torch.testing.assert_close(projected @ r, r * (0.1 / 9.1), rtol=1e-14, atol=0)
    grad_w = torch.tensor([[1.0, -1.0, 0.5], [0.0, 2.0, 1.0]], **f64)  # (classes, d)
    # the projected step changes the head's response to r by 0.1 / 9.1 of the plain step's change
    torch.testing.assert_close(
        (grad_w @ projected.T) @ r, (grad_w @ r) * (0.1 / 9.1), rtol=1e-14, atol=0
    )


def test_owm_update_as_the_official_code_writes_it():
    P, r, alpha = torch.eye(2, **f64), torch.tensor([1.0, 3.0], **f64), 0.1
    k = r  # P r with P = I
    raw = torch.tensor(
        [
            [1 - k[0] * k[0] / (alpha + k[0] * r[0]), -k[0] * k[1] / (alpha + k[0] * r[1])],
            [-k[1] * k[0] / (alpha + k[1] * r[0]), 1 - k[1] * k[1] / (alpha + k[1] * r[1])],
        ],
        **f64,
    )
    torch.testing.assert_close(
        owm_update(P, r, alpha, "code"), raw / raw.pow(2).sum().sqrt(), rtol=1e-14, atol=0
    )


def sgd_step(params, loss, lr):
    with torch.no_grad():
        for p, g in zip(params, grads(loss, params), strict=True):
            p -= lr * g


def test_mla_steps_each_modality_in_turn_through_the_shared_head_with_its_gradient_projected():
    model, batch = tiny_model(VECTORS), make_batch(VECTORS)
    algo = METHODS.get("mla")()
    algo.setup(model)
    with torch.no_grad():
        model.shared_head.weight.normal_(0, 0.5)
        model.shared_head.bias.normal_(0, 0.5)
    manual = copy.deepcopy(model)
    optimizer = torch.optim.SGD(algo.param_groups(model, 0.1), lr=0.1)
    algo.on_epoch_start(0, model, {"train": [batch, batch]}, optimizer)
    losses = algo.train_step(model, batch, optimizer)
    assert list(losses) == ["loss_audio", "loss_visual"]

    head, y = manual.shared_head, batch["label"]
    # audio first: the run's very first step is not modified
    audio = list(manual.encoders["audio"].parameters()) + [head.weight, head.bias]
    sgd_step(audio, F.cross_entropy(head(manual.encoders["audio"](batch["audio"])), y), 0.1)
    # then visual, through the head audio just updated; W's gradient times P^T, P from z_v's batch mean
    z = manual.encoders["visual"](batch["visual"])
    loss = F.cross_entropy(head(z), y)
    r = z.detach().mean(dim=0)
    P = torch.eye(len(r), **f64) - torch.outer(r, r) / (0.1 + r @ r)  # alpha = 0.1 ** (1 + 0 / 2)
    g_w, g_b, *g_enc = grads(
        loss, [head.weight, head.bias, *manual.encoders["visual"].parameters()]
    )
    with torch.no_grad():
        head.weight -= 0.1 * g_w @ P.T
        head.bias -= 0.1 * g_b
        for p, g in zip(manual.encoders["visual"].parameters(), g_enc):
            p -= 0.1 * g
    for (name, p), q in zip(model.named_parameters(), manual.parameters(), strict=True):
        torch.testing.assert_close(p, q, msg=name)
    assert algo.state_dict()["steps"] == 2 and algo.state_dict()["batch_index"] == 1


def test_mla_fusion_weights_follow_the_entropy_of_each_modality():
    confident = torch.tensor(
        [[math.log(3.0), 0.0], [0.0, 0.0]], **f64
    )  # p = (3/4, 1/4), then uniform
    uniform = torch.zeros(2, 2, **f64)
    h_conf = -(0.75 * math.log(0.75) + 0.25 * math.log(0.25))
    h_max = math.log(2)
    w = entropy_weights([confident, uniform])
    first = math.exp(h_max - h_conf) / (math.exp(h_max - h_conf) + 1)
    torch.testing.assert_close(
        w, torch.tensor([[first, 1 - first], [0.5, 0.5]], **f64), rtol=1e-14, atol=0
    )
    batch_w = entropy_weights(
        [confident, uniform], per_sample=False
    )  # the official: one row for the batch
    assert batch_w.shape == (1, 2)
    algo = METHODS.get("mla")(fusion_weights="fixed")
    torch.testing.assert_close(
        algo.weights([uniform, uniform]), torch.tensor([[0.55, 0.45]], **f64)
    )


# ----------------------------------------------------------------------------- D&R


def test_purity_counts_each_clusters_majority_label():
    labels = torch.tensor([0, 0, 1, 1, 1, 2]).numpy()
    assert purity(labels, torch.tensor([0, 0, 0, 1, 1, 1]).numpy()) == 4 / 6
    assert purity(labels, torch.tensor([0, 0, 1, 1, 1, 2]).numpy()) == 1.0


def blob_features(blob_of_sample, seed=0):
    """Features in one of two tight, far-apart blobs, sample i in blob ``blob_of_sample[i]``."""
    g = torch.Generator().manual_seed(seed)
    blob = torch.as_tensor(blob_of_sample)
    return torch.tensor([[-5.0, -5.0], [5.0, 5.0]], **f64)[blob] + 0.01 * torch.randn(
        len(blob), 2, generator=g, **f64
    )


def test_purity_gap_between_train_and_validation_features_sets_the_reinit_weight():
    train_y, val_y = torch.tensor([0, 0, 0, 0, 1, 1, 1, 1]), torch.tensor([0, 0, 1, 1, 0, 0, 1, 1])
    separated_train, separated_val = (
        blob_features(train_y),
        blob_features(val_y, seed=1),
    )  # a blob per class
    mixed_val = blob_features(
        [0, 0, 0, 0, 1, 1, 1, 1], seed=2
    )  # each blob half one class, half the other
    assert cluster_purity(separated_train.numpy(), train_y.numpy(), 2) == 1.0
    assert cluster_purity(mixed_val.numpy(), val_y.numpy(), 2) == 0.5
    model = MultimodalClassifier(
        {"audio": nn.Identity(), "visual": nn.Identity()},
        ConcatFusion({"audio": 2, "visual": 2}, 2),
        2,
    ).double()
    diagnosis = METHODS.get("dnr")().diagnose(
        model,
        [{"audio": separated_train, "visual": separated_train, "label": train_y}],
        [{"audio": mixed_val, "visual": separated_val, "label": val_y}],
    )
    assert diagnosis["audio"] == {
        "purity_train": 1.0,
        "purity_val": 0.5,
        "gap": 0.5,
        "weight": math.tanh(3 * 0.5),
    }
    assert diagnosis["visual"] == {
        "purity_train": 1.0,
        "purity_val": 1.0,
        "gap": 0.0,
        "weight": 0.0,
    }
    assert reinit_weight(0.5, 3.0) == math.tanh(1.5)


def test_reinitialisation_interpolates_each_encoder_towards_its_initial_weights_exactly():
    model = tiny_model(VECTORS)
    algo = METHODS.get("dnr")()
    algo.setup(model)
    initial = copy.deepcopy(model)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn_like(p))  # "training"
    trained = copy.deepcopy(model)
    algo.reinitialise(model, {"audio": 0.25, "visual": 0.5})
    for m, w in {"audio": 0.25, "visual": 0.5}.items():
        for p, p0, p1 in zip(
            model.encoders[m].parameters(),
            initial.encoders[m].parameters(),
            trained.encoders[m].parameters(),
            strict=True,
        ):
            assert torch.equal(p, w * p0 + (1 - w) * p1)
    for p, p1 in zip(model.fusion.parameters(), trained.fusion.parameters()):
        assert torch.equal(p, p1)


def test_dnr_reinitialises_after_epochs_20_40_60_only(monkeypatch):
    algo = METHODS.get("dnr")()
    model = tiny_model(VECTORS)
    algo.setup(model)
    monkeypatch.setattr(algo, "diagnose", lambda *a: {m: {"weight": 0.0} for m in model.modalities})
    for epoch in range(100):
        algo.on_epoch_start(epoch, model, {"train": [], "val": []}, None)
    assert [r["epoch"] for r in algo.reinits] == [20, 40, 60]


# ----------------------------------------------------------------------------- runs


@pytest.mark.parametrize("method", ["mla", "mmpareto", "dnr"])
def test_dglnb_train_runs_each_method_on_the_smoke_profile(tmp_path, method):
    assert (
        main(
            [
                "train",
                "--method",
                method,
                "--dataset",
                "synthetic",
                "--profile",
                "smoke",
                "--no-progress",
                "--out",
                str(tmp_path),
            ]
        )
        == 0
    )
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics["config"]["method"] == method
    assert all(v is not None for v in metrics["test_score"].values())


def test_a_resumed_dnr_run_equals_an_uninterrupted_one(tmp_path):
    settings = dict(
        dataset="synthetic",
        method="dnr",
        profile="smoke",
        epochs=4,
        progress=False,
        method_options={"reinit_epoch": 1, "reinit_num": 2},
    )  # re-initialises before epochs 2 and 3
    whole = tmp_path / "whole"
    train(TrainConfig(**settings, out=whole))
    for stop in (2, 3):  # stopped before the first, or after both, re-initialisations
        out = tmp_path / f"stopped{stop}"
        train(TrainConfig(**{**settings, "epochs": stop}, out=out))
        train(TrainConfig(**settings, out=out, resume=True))
        for name in ("metrics.json", "history.csv"):
            assert (out / name).read_bytes() == (whole / name).read_bytes(), (stop, name)
    assert len(torch.load(whole / "last.pt", weights_only=False)["method"]["reinits"]) == 2
