"""DGL's two options beyond the paper: per-group gradient clipping (the default) and the fusion
trained on dropped modalities (``fusion_dropout``); both are method options, so they enter the
run-cache key."""

from __future__ import annotations

import copy
from dataclasses import replace

import pytest
import torch

from dglnb import TrainConfig
from dglnb.errors import ConfigError
from dglnb.methods import METHODS
from dglnb.train.cache import run_key
from dglnb.train.run import resolve
from tiny_models import RGBD, SEQUENCES3, VECTORS, make_batch, tiny_model

ROUTED = ("dgl", "dgl_mt", "dgl_ut", "joint_aux")


def norm(params) -> float:
    return float(torch.linalg.vector_norm(torch.stack([p.grad.norm() for p in params])))


def step_updates(method, model, batch) -> list[torch.Tensor]:
    """Each parameter's change in one plain SGD step (lr 1) of ``method``."""
    before = copy.deepcopy(model)
    method.train_step(model, batch, torch.optim.SGD(model.parameters(), lr=1.0))
    return [
        p.detach() - q.detach()
        for p, q in zip(model.parameters(), before.parameters(), strict=True)
    ]


def positions(model, params) -> list[int]:
    """Where ``params`` stand in ``model.parameters()``."""
    return [i for i, p in enumerate(model.parameters()) if any(p is q for q in params)]


def update_norm(updates, ids) -> float:
    return float(torch.linalg.vector_norm(torch.stack([updates[i].norm() for i in ids])))


def test_per_group_clipping_leaves_the_fusion_step_alone_where_global_clipping_shrinks_it():
    """A DGL step whose encoder gradients are ten times the fusion's and above the clip: clipped per
    group, the fusion moves as without clipping and each encoder by the clip norm; clipped globally,
    the encoders' norm shrinks the fusion's step too (the coupling DGL's routing removes)."""
    model, batch = tiny_model(VECTORS), make_batch(VECTORS)
    probe = copy.deepcopy(model)
    METHODS.get("dgl")(alpha=1.0).compute_gradients(probe, batch)
    fusion_norm = norm(probe.fusion_parameters())
    alpha = 10 * fusion_norm / min(norm(probe.encoder_parameters(m)) for m in probe.modalities)
    clip = 2 * fusion_norm
    free = step_updates(METHODS.get("dgl")(alpha=alpha), copy.deepcopy(model), batch)
    per_group = METHODS.get("dgl")(alpha=alpha, grad_clip=clip)
    global_ = METHODS.get("dgl")(alpha=alpha, grad_clip=clip, clip="global")
    grouped, clipped = (step_updates(m, copy.deepcopy(model), batch) for m in (per_group, global_))
    in_fusion = positions(model, model.fusion_parameters())
    for i in in_fusion:
        torch.testing.assert_close(grouped[i], free[i], rtol=0, atol=0)
    shrink = update_norm(clipped, in_fusion) / fusion_norm
    assert shrink < 0.2  # the encoders' norm (over ten times the fusion's) sets the global factor
    for m in model.modalities:
        ids = positions(model, model.encoder_parameters(m))
        assert update_norm(grouped, ids) == pytest.approx(clip, rel=1e-6)


@pytest.mark.parametrize("method", ROUTED)
def test_dgl_and_its_ablations_clip_the_fusion_and_each_encoder_separately_by_default(method):
    model = tiny_model(VECTORS)
    groups = METHODS.get(method)(grad_clip=1.0).clip_groups(model)
    expected = {
        "fusion": model.fusion_parameters(),
        **{m: model.encoder_parameters(m) for m in model.modalities},
    }
    assert {k: [id(p) for p in g] for k, g in groups.items()} == {
        k: [id(p) for p in g] for k, g in expected.items()
    }
    global_ = METHODS.get(method)(grad_clip=1.0, clip="global")
    assert global_.clip_groups(model) == {"all": list(model.parameters())}
    assert METHODS.get(method)(grad_clip=1.0, clip="none").clip_groups(model) == {}


def test_the_other_methods_still_clip_all_parameters_together():
    model = tiny_model(VECTORS)
    assert METHODS.get("vanilla")(grad_clip=1.0).clip_groups(model) == {
        "all": list(model.parameters())
    }


def test_a_clipped_step_logs_each_group_s_norm_and_clip_factor():
    model, batch = tiny_model(VECTORS), make_batch(VECTORS)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.0)
    logs = METHODS.get("dgl")(grad_clip=1e-3).train_step(model, batch, optimizer)
    for group in ("fusion", *model.modalities):
        assert logs[f"grad_norm_{group}"] > 1e-3
        assert logs[f"clip_factor_{group}"] == pytest.approx(
            1e-3 / logs[f"grad_norm_{group}"], rel=1e-3
        )
    loose = METHODS.get("dgl")(grad_clip=1e6).train_step(model, batch, optimizer)
    assert loose["clip_factor_fusion"] == 1.0
    assert not any(
        k.startswith("clip_") for k in METHODS.get("dgl")().train_step(model, batch, optimizer)
    )


@pytest.mark.parametrize(
    "info", [VECTORS, RGBD, SEQUENCES3], ids=["vectors", "rgbd", "three-mixer"]
)
def test_dgl_with_fusion_dropout_alpha_times_m_steps_as_dgl_mt(info):
    model = tiny_model(info, "mlp_mixer") if info is SEQUENCES3 else tiny_model(info)
    batch = make_batch(info)
    regularised, mt = copy.deepcopy(model), copy.deepcopy(model)
    fusion_dropout = 2.0 * len(model.modalities)
    logs = METHODS.get("dgl")(alpha=2.0, fusion_dropout=fusion_dropout).compute_gradients(
        regularised, batch
    )
    METHODS.get("dgl_mt")(alpha=2.0).compute_gradients(mt, batch)
    for (name, p), q in zip(regularised.named_parameters(), mt.parameters(), strict=True):
        torch.testing.assert_close(p.grad, q.grad, msg=name)
    assert {f"loss_fusion_{m}_alone" for m in model.modalities} <= set(logs)


def test_the_options_are_validated_and_enter_the_run_cache_key():
    with pytest.raises(ValueError, match="fusion_dropout must be >= 0"):
        METHODS.get("dgl")(fusion_dropout=-1.0)
    with pytest.raises(ValueError, match="clip must be one of per_group, global, none"):
        METHODS.get("dgl_mt")(clip="all")
    assert set(METHODS.get("joint_aux").options()) == {"clip", "fusion_dropout"}
    base = TrainConfig(dataset="avdigits", method="dgl", profile="smoke")
    keys = {
        run_key(replace(base, method_options=options))
        for options in ({}, {"fusion_dropout": 8.0}, {"clip": "global"})
    }
    assert len(keys) == 3
    with pytest.raises(ConfigError, match="fusion_dropout"):
        resolve(replace(base, method_options={"fusion_dropout": -2.0}))
