"""DGL's gradient routing (eq. 9-15), its ablations, and the paper's detach formulation.

The same checks cover late fusion and the RGB-D segmenter (per-pixel losses, the other modality zeroed
at every scale), and batch norm: only the multimodal forward pass may update running statistics.
Each check is a plain function that asserts; the tests below run it over its configurations, and
``ROUTING_CHECKS`` lists every (name, call) pair so test_mutations.py can run the same checks
against deliberately broken versions of DGL and show that each break is caught.
"""

from __future__ import annotations

import copy
from functools import partial
from typing import Callable

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from dglnb.data import DatasetInfo
from dglnb.methods import METHODS
from dglnb.models import MultimodalClassifier, build_model
from tiny_models import (
    AUDIO_VISUAL,
    CONFIG_IDS,
    CONFIGS,
    RGBD,
    SEQUENCES3,
    SMALL_AUDIO_VISUAL,
    VECTORS,
    grads,
    make_batch,
    tiny_model,
)

ALPHA = 2.5
# method -> (does the multimodal loss reach the encoders?, does alpha * L^m reach the fusion?)
ROUTES = {
    "dgl": (False, False),
    "dgl_mt": (False, True),
    "dgl_ut": (True, False),
    "joint_aux": (True, True),
}
ROUTE_CONFIGS = [(VECTORS, "concat"), (VECTORS, "gated"), (AUDIO_VISUAL, "sum"), (RGBD, "esanet")]
ROUTE_IDS = ["vectors-concat", "vectors-gated", "av-sum", "rgbd"]
GRADIENT_CONFIGS, GRADIENT_IDS = [*CONFIGS, (RGBD, "esanet")], [*CONFIG_IDS, "rgbd"]
# models with batch norm in the fusion parameters (concat + batch norm for classification; and in the
# encoders, except for vectors)
BATCHNORM_INFOS = {"vectors-bn": VECTORS, "av-bn": AUDIO_VISUAL, "rgbd": RGBD}
# Fusions that build their own encoders (MMTM runs between their layers; the mixer needs sequences):
# the same checks, on their own configurations.
DENSE_CONFIGS = [(SMALL_AUDIO_VISUAL, "mmtm"), (SEQUENCES3, "mlp_mixer")]
DENSE_IDS = ["av-mmtm", "seq3-mlp_mixer"]
PAPER_INFOS = [VECTORS, AUDIO_VISUAL]
PAPER_IDS = ["vectors", "av"]


def unimodal_loss(model, batch, m):
    """L^m of eq. 11-14, from a fresh forward pass."""
    return model.loss(model(batch, zero=[n for n in model.modalities if n != m]), batch["label"])


def with_batchnorm_fusion(model: MultimodalClassifier) -> MultimodalClassifier:
    """``model`` (concat fusion) with a batch norm over the joint vector before its head."""
    head = model.fusion.head
    model.fusion.head = nn.Sequential(nn.BatchNorm1d(head.in_features), head).to(head.weight)
    return model


def batchnorm_model(info: DatasetInfo) -> MultimodalClassifier:
    """A tiny model for ``info`` with batch norm in its fusion and random running statistics."""
    model = (
        tiny_model(info) if info.task == "segmentation" else with_batchnorm_fusion(tiny_model(info))
    )
    with torch.no_grad():
        for layer in model.modules():
            if isinstance(layer, nn.modules.batchnorm._BatchNorm):
                layer.running_mean.normal_()
                layer.running_var.uniform_(0.5, 2.0)
    return model


def run(method_name, model, batch):
    METHODS.get(method_name)(alpha=ALPHA).compute_gradients(model, batch)


def assert_grads(params, expected):
    for p, g in zip(params, expected, strict=True):
        torch.testing.assert_close(p.grad, g)


# ----------------------------------------------------------------------------- the checks


def check_dgl_encoder_gradient_is_alpha_times_unimodal_gradient(
    info: DatasetInfo, fusion: str
) -> None:
    model, batch = tiny_model(info, fusion), make_batch(info)
    expected = {
        m: [ALPHA * g for g in grads(unimodal_loss(model, batch, m), model.encoder_parameters(m))]
        for m in model.modalities
    }
    run("dgl", model, batch)
    for m in model.modalities:
        assert_grads(model.encoder_parameters(m), expected[m])
        assert any(g.abs().sum() > 0 for g in expected[m])


def check_dgl_fusion_gradient_equals_multimodal_loss_on_detached_features(
    info: DatasetInfo, fusion: str
) -> None:
    model, batch = tiny_model(info, fusion), make_batch(info)
    feats = {m: z.detach() for m, z in model.encode(batch).items()}
    expected = grads(model.loss(model.fuse(feats), batch["label"]), model.fusion_parameters())
    run("dgl", model, batch)
    assert_grads(model.fusion_parameters(), expected)


def check_dgl_equals_paper_detach_formulation_for_concat(info: DatasetInfo) -> None:
    """The official step: alpha (L^a + L^v) backward, clear the fusion gradients, then L^d on detached features."""
    ours, paper = tiny_model(info, "concat"), tiny_model(info, "concat")
    batch = make_batch(info)

    feats = paper.encode(batch)
    y = batch["label"]
    loss_a = F.cross_entropy(
        paper.fusion.head(torch.cat([feats["audio"], torch.zeros_like(feats["visual"])], 1)), y
    )
    loss_v = F.cross_entropy(
        paper.fusion.head(torch.cat([torch.zeros_like(feats["audio"]), feats["visual"]], 1)), y
    )
    loss_d = F.cross_entropy(
        paper.fusion.head(torch.cat([feats["audio"].detach(), feats["visual"].detach()], 1)), y
    )
    (ALPHA * (loss_a + loss_v)).backward(retain_graph=True)
    for p in paper.fusion.parameters():
        p.grad = None
    loss_d.backward()

    opt = torch.optim.SGD(ours.parameters(), lr=0.1, momentum=0.9, weight_decay=1e-4)
    METHODS.get("dgl")(alpha=ALPHA).train_step(ours, batch, opt)
    for p, q in zip(ours.parameters(), paper.parameters(), strict=True):
        torch.testing.assert_close(p.grad, q.grad)
    torch.optim.SGD(paper.parameters(), lr=0.1, momentum=0.9, weight_decay=1e-4).step()
    for p, q in zip(ours.parameters(), paper.parameters(), strict=True):
        torch.testing.assert_close(p, q)


def check_each_loss_reaches_exactly_the_groups_its_method_names(
    method: str, info: DatasetInfo, fusion: str
) -> None:
    multi_to_encoders, unimodal_to_fusion = ROUTES[method]
    model, batch = tiny_model(info, fusion), make_batch(info)
    fusion_params = model.fusion_parameters()
    loss_multi = model.loss(model(batch), batch["label"])
    expected_fusion = grads(loss_multi, fusion_params)
    expected_encoders = {}
    for m in model.modalities:
        loss_m = ALPHA * unimodal_loss(model, batch, m)
        expected_encoders[m] = grads(loss_m, model.encoder_parameters(m))
        if multi_to_encoders:
            from_multi = grads(loss_multi, model.encoder_parameters(m))
            expected_encoders[m] = [a + b for a, b in zip(expected_encoders[m], from_multi)]
        if unimodal_to_fusion:
            expected_fusion = [a + b for a, b in zip(expected_fusion, grads(loss_m, fusion_params))]
    run(method, model, batch)
    assert_grads(fusion_params, expected_fusion)
    for m in model.modalities:
        assert_grads(model.encoder_parameters(m), expected_encoders[m])


def check_running_stats_come_from_the_multimodal_pass_alone(method: str, info: DatasetInfo) -> None:
    """After one step, every batch-norm buffer equals that after one multimodal forward pass in training mode."""
    model, batch = batchnorm_model(info), make_batch(info)
    reference = copy.deepcopy(model)
    with torch.no_grad():
        reference(batch)
    changed = [
        n
        for n, b in model.named_buffers()
        if not torch.equal(b, dict(reference.named_buffers())[n])
    ]
    assert any(
        "fusion" in n for n in changed
    )  # the multimodal pass does update the fusion's statistics
    run(method, model, batch)
    for (n, b), (_, expected) in zip(model.named_buffers(), reference.named_buffers(), strict=True):
        torch.testing.assert_close(b, expected, rtol=0, atol=0, msg=f"{n} differs")


def check_joint_aux_is_the_plain_sum_of_losses() -> None:
    model, batch = tiny_model(VECTORS, "concat"), make_batch(VECTORS)
    reference = copy.deepcopy(model)
    total = F.cross_entropy(reference(batch), batch["label"]) + ALPHA * sum(
        unimodal_loss(reference, batch, m) for m in reference.modalities
    )
    total.backward()
    run("joint_aux", model, batch)
    for p, q in zip(model.parameters(), reference.parameters(), strict=True):
        torch.testing.assert_close(p.grad, q.grad)


# Every check of DGL's gradients by name, in the configurations of the tests below that use MLP
# encoders (the convolutional ones check the same rule, more slowly).
ROUTING_CHECKS: dict[str, Callable[[], None]] = {
    **{
        f"encoder gradient [{i}]": partial(
            check_dgl_encoder_gradient_is_alpha_times_unimodal_gradient, *c
        )
        for c, i in zip(CONFIGS, CONFIG_IDS)
        if c[0] is not AUDIO_VISUAL
    },
    **{
        f"fusion gradient [{i}]": partial(
            check_dgl_fusion_gradient_equals_multimodal_loss_on_detached_features, *c
        )
        for c, i in zip(CONFIGS, CONFIG_IDS)
        if c[0] is not AUDIO_VISUAL
    },
    "paper formulation [vectors]": partial(
        check_dgl_equals_paper_detach_formulation_for_concat, VECTORS
    ),
    **{
        f"routes [{method}-{i}]": partial(
            check_each_loss_reaches_exactly_the_groups_its_method_names, method, *c
        )
        for method in ROUTES
        for c, i in zip(ROUTE_CONFIGS, ROUTE_IDS)
        if c[0] is not AUDIO_VISUAL
    },
    "joint_aux sum": check_joint_aux_is_the_plain_sum_of_losses,
    **{
        f"batchnorm [{method}-{name}]": partial(
            check_running_stats_come_from_the_multimodal_pass_alone, method, info
        )
        for method in ROUTES
        for name, info in BATCHNORM_INFOS.items()
        if info is not AUDIO_VISUAL
    },
    **{
        f"encoder gradient [{i}]": partial(
            check_dgl_encoder_gradient_is_alpha_times_unimodal_gradient, *c
        )
        for c, i in zip(DENSE_CONFIGS, DENSE_IDS)
    },
    **{
        f"fusion gradient [{i}]": partial(
            check_dgl_fusion_gradient_equals_multimodal_loss_on_detached_features, *c
        )
        for c, i in zip(DENSE_CONFIGS, DENSE_IDS)
    },
    **{
        f"routes [dgl-{i}]": partial(
            check_each_loss_reaches_exactly_the_groups_its_method_names, "dgl", *c
        )
        for c, i in zip(DENSE_CONFIGS, DENSE_IDS)
    },
}


# ----------------------------------------------------------------------------- the tests


@pytest.mark.parametrize(
    ("info", "fusion"), GRADIENT_CONFIGS + DENSE_CONFIGS, ids=GRADIENT_IDS + DENSE_IDS
)
def test_dgl_encoder_gradient_is_alpha_times_unimodal_gradient(info, fusion):
    check_dgl_encoder_gradient_is_alpha_times_unimodal_gradient(info, fusion)


@pytest.mark.parametrize(
    ("info", "fusion"), GRADIENT_CONFIGS + DENSE_CONFIGS, ids=GRADIENT_IDS + DENSE_IDS
)
def test_dgl_fusion_gradient_equals_multimodal_loss_on_detached_features(info, fusion):
    check_dgl_fusion_gradient_equals_multimodal_loss_on_detached_features(info, fusion)


@pytest.mark.parametrize("info", PAPER_INFOS, ids=PAPER_IDS)
def test_dgl_equals_paper_detach_formulation_for_concat(info):
    check_dgl_equals_paper_detach_formulation_for_concat(info)


@pytest.mark.parametrize("method", ROUTES)
@pytest.mark.parametrize(
    ("info", "fusion"), ROUTE_CONFIGS + DENSE_CONFIGS, ids=ROUTE_IDS + DENSE_IDS
)
def test_each_loss_reaches_exactly_the_groups_its_method_names(method, info, fusion):
    check_each_loss_reaches_exactly_the_groups_its_method_names(method, info, fusion)


def test_joint_aux_is_the_plain_sum_of_losses():
    check_joint_aux_is_the_plain_sum_of_losses()


@pytest.mark.parametrize("method", ROUTES)
@pytest.mark.parametrize("info", BATCHNORM_INFOS.values(), ids=BATCHNORM_INFOS)
def test_running_stats_come_from_the_multimodal_pass_alone(method, info):
    check_running_stats_come_from_the_multimodal_pass_alone(method, info)


@pytest.mark.parametrize("method", METHODS.names())
@pytest.mark.parametrize("info", PAPER_INFOS, ids=PAPER_IDS)
def test_encoders_run_once_per_step(method, info):
    from tiny_models import with_alpha

    model, batch = tiny_model(info), make_batch(info)
    algo = with_alpha(method, ALPHA)
    algo.setup(model)
    calls = dict.fromkeys(model.modalities, 0)
    for m in model.modalities:
        model.encoders[m].register_forward_hook(lambda *_, m=m: calls.__setitem__(m, calls[m] + 1))
    algo.train_step(model, batch, torch.optim.SGD(algo.param_groups(model, 0.1)))
    assert calls == dict.fromkeys(model.modalities, 1)


def test_dgl_returns_the_multimodal_and_every_unimodal_loss():
    model, batch = tiny_model(AUDIO_VISUAL), make_batch(AUDIO_VISUAL)
    losses = METHODS.get("dgl")().train_step(
        model, batch, torch.optim.SGD(model.parameters(), lr=0.1)
    )
    assert set(losses) == {"loss_multi", "loss_audio", "loss_visual"}
    assert all(isinstance(v, float) and v > 0 for v in losses.values())


@pytest.mark.parametrize("fusion", ["concat", "sum", "film", "gated"])
def test_dgl_gives_every_encoder_a_gradient_at_the_first_step_from_the_standard_initialisation(
    fusion,
):
    """With the initialisation training starts from (zero biases), not the randomised test models."""
    torch.manual_seed(0)
    model = build_model(VECTORS, fusion, hidden=8).double()
    METHODS.get("dgl")(alpha=ALPHA).compute_gradients(model, make_batch(VECTORS))
    for m in model.modalities:
        assert sum(p.grad.abs().sum() for p in model.encoder_parameters(m)) > 0, (
            f"encoder {m} got no gradient"
        )


@pytest.mark.parametrize("method", ROUTES)
@pytest.mark.parametrize(("info", "fusion"), ROUTE_CONFIGS, ids=ROUTE_IDS)
def test_one_backward_pass_gives_the_explicitly_routed_gradients(method, info, fusion):
    """A separable model's DGL step (one backward of the summed losses) equals the step that routes
    each loss to its groups with backward(inputs=...), and leaves every parameter trainable."""
    one_pass = tiny_model(info, fusion)
    routed = copy.deepcopy(one_pass)
    routed.separable = False
    batch = make_batch(info)
    run(method, one_pass, batch)
    run(method, routed, batch)
    for (name, p), q in zip(one_pass.named_parameters(), routed.parameters(), strict=True):
        assert (p.grad is None) == (q.grad is None), name
        if p.grad is not None:
            torch.testing.assert_close(p.grad, q.grad, msg=name)
    assert all(p.requires_grad for p in one_pass.parameters())
