"""dglnb.dgl_loss, DGL for any model: its gradients equal, in float64, dglnb's own DGL step and the
official code's formulation (two backward passes, the fusion's gradients cleared in between), for
every kind of fusion and every truncation; and its errors say what is wrong."""

from __future__ import annotations

import copy

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from dglnb import dgl_loss
from dglnb.methods import METHODS
from dglnb.metrics import IGNORE_INDEX
from dglnb.models import MultimodalClassifier
from tiny_models import RGBD, SEQUENCES3, THREE, VECTORS, grads, make_batch, tiny_model

ALPHA = 2.5
VARIANTS = ("dgl", "dgl_mt", "dgl_ut", "joint_aux")
# variant -> (truncate_multimodal, truncate_unimodal)
FLAGS = {
    "dgl": (True, True),
    "dgl_mt": (True, False),
    "dgl_ut": (False, True),
    "joint_aux": (False, False),
}


class MLPHeadFusion(nn.Module):
    """A nonlinear head on the concatenation, with batch norm: W2 relu(BN(W1 [z_1; z_2])) + b2."""

    def __init__(self, dims: dict[str, int], num_classes: int) -> None:
        super().__init__()
        self.modalities = tuple(dims)
        hidden = 7
        self.net = nn.Sequential(
            nn.Linear(sum(dims.values()), hidden),
            nn.BatchNorm1d(hidden),
            nn.ReLU(),
            nn.Linear(hidden, num_classes),
        )

    def forward(self, feats):
        return self.net(torch.cat([feats[m] for m in self.modalities], dim=1))


class BilinearFusion(nn.Module):
    """The official FiLM_DGL's form: a bilinear map of the two features, z_1^T W_k z_2 + b_k."""

    def __init__(self, dims: dict[str, int], num_classes: int) -> None:
        super().__init__()
        self.x, self.y = dims
        self.bilinear = nn.Bilinear(dims[self.x], dims[self.y], num_classes)

    def forward(self, feats):
        return self.bilinear(feats[self.x], feats[self.y])


def with_fusion(info, fusion_cls) -> MultimodalClassifier:
    """A tiny float64 model for ``info`` whose fusion is ``fusion_cls`` (random parameters)."""
    model = tiny_model(info, "concat")
    dims = {m: model.encoders[m].out_dim for m in model.modalities}
    torch.manual_seed(3)
    model.fusion = fusion_cls(dims, info.num_classes).double()
    with torch.no_grad():
        for p in model.fusion.parameters():
            p.normal_(0.0, 0.5)
    return model


MODELS = {
    "concat": lambda: tiny_model(VECTORS, "concat"),
    "sum": lambda: tiny_model(VECTORS, "sum"),
    "gated": lambda: tiny_model(VECTORS, "gated"),
    "film": lambda: tiny_model(VECTORS, "film"),
    "bilinear": lambda: with_fusion(VECTORS, BilinearFusion),
    "mlp_head": lambda: with_fusion(VECTORS, MLPHeadFusion),
    "three_concat": lambda: tiny_model(THREE, "concat"),
    "per_pixel_decoder": lambda: tiny_model(RGBD),
    "three_modality_mixer": lambda: tiny_model(SEQUENCES3, "mlp_mixer"),
}
BATCHES = {"per_pixel_decoder": RGBD, "three_concat": THREE, "three_modality_mixer": SEQUENCES3}


def batch_for(name: str) -> dict:
    return make_batch(BATCHES.get(name, VECTORS))


def drop_in_gradients(model, batch, variant: str) -> list[torch.Tensor]:
    """Every parameter's gradient after one dgl_loss(...).backward() on ``model``'s own parts."""
    multimodal, unimodal = FLAGS[variant]
    result = dgl_loss(
        model.encode(batch),
        model.fusion,
        batch["label"],
        model.loss,
        alpha=ALPHA,
        drop=model.zero_features,
        truncate_multimodal=multimodal,
        truncate_unimodal=unimodal,
    )
    result.backward()
    return [p.grad for p in model.parameters()]


def dglnb_step_gradients(model, batch, variant: str) -> list[torch.Tensor]:
    METHODS.get(variant)(alpha=ALPHA).compute_gradients(model, batch)
    return [p.grad for p in model.parameters()]


def official_gradients(model, batch, variant: str) -> list[torch.Tensor]:
    """The official code's way: alpha * sum_m L^m backward (every other modality zeroed), the
    fusion's gradients cleared (unimodal truncation), then the multimodal loss backward, on
    detached features under multimodal truncation."""
    multimodal, unimodal = FLAGS[variant]
    feats = model.encode(batch)
    y = batch["label"]
    losses = [
        model.loss(model.fuse(feats, zero=[n for n in model.modalities if n != m]), y)
        for m in model.modalities
    ]
    (ALPHA * sum(losses)).backward(retain_graph=True)
    if unimodal:
        for p in model.fusion_parameters():
            p.grad = None
    fused = {m: z.detach() for m, z in feats.items()} if multimodal else feats
    model.loss(model.fuse(fused), y).backward()
    return [torch.zeros_like(p) if p.grad is None else p.grad for p in model.parameters()]


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("name", MODELS)
def test_drop_in_gradients_equal_dglnbs_step_and_the_official_formulation(name, variant):
    batch = batch_for(name)
    model = MODELS[name]()
    ours, step, official = (copy.deepcopy(model) for _ in range(3))
    got = drop_in_gradients(ours, batch, variant)
    names = [n for n, _ in ours.named_parameters()]
    references = (
        dglnb_step_gradients(step, batch, variant),
        official_gradients(official, batch, variant),
    )
    for reference in references:
        for name, g, expected in zip(names, got, reference, strict=True):
            torch.testing.assert_close(g, expected, rtol=1e-12, atol=1e-12, msg=name)
    assert all(g is not None and g.dtype == torch.float64 for g in got)


@pytest.mark.parametrize("name", ["mlp_head", "per_pixel_decoder"])
def test_running_statistics_come_from_the_multimodal_pass_alone(name):
    model, batch = MODELS[name](), batch_for(name)
    reference = copy.deepcopy(model)
    with torch.no_grad():
        reference.fusion(reference.encode(batch))
    drop_in_gradients(model, batch, "dgl")
    for (n, b), expected in zip(model.named_buffers(), reference.buffers(), strict=True):
        torch.testing.assert_close(b, expected, rtol=0, atol=0, msg=n)


def test_a_per_sample_loss_is_averaged():
    """A per-pixel loss with an ignore index and no reduction: the mean over every pixel."""
    model, batch = MODELS["per_pixel_decoder"](), batch_for("per_pixel_decoder")
    feats = model.encode(batch)

    def per_pixel(out, y):
        return F.cross_entropy(out, y, ignore_index=IGNORE_INDEX, reduction="none")

    result = dgl_loss(feats, model.fusion, batch["label"], per_pixel, drop=model.zero_features)
    reference = copy.deepcopy(model.fusion)
    detached = {m: z.detach() for m, z in feats.items()}
    expected = per_pixel(reference(detached), batch["label"]).mean()
    torch.testing.assert_close(result.multimodal, expected)
    assert (batch["label"] == IGNORE_INDEX).any() and result.loss.dim() == 0


@pytest.mark.parametrize(
    "name", ["gated", "mlp_head", "per_pixel_decoder", "three_concat", "three_modality_mixer"]
)
def test_fusion_dropout_at_alpha_times_m_gives_the_fusion_dgl_mts_gradients(name):
    """lambda * mean_m L^d(m alone) with lambda = alpha * M is alpha * sum_m L^m on the fusion."""
    model, batch = MODELS[name](), batch_for(name)
    regularised, mt = copy.deepcopy(model), copy.deepcopy(model)
    result = dgl_loss(
        regularised.encode(batch),
        regularised.fusion,
        batch["label"],
        regularised.loss,
        alpha=ALPHA,
        drop=regularised.zero_features,
        fusion_dropout=ALPHA * len(model.modalities),
    )
    result.backward()
    drop_in_gradients(mt, batch, "dgl_mt")
    for (n, p), q in zip(regularised.named_parameters(), mt.parameters(), strict=True):
        torch.testing.assert_close(p.grad, q.grad, msg=f"{name}: {n}")
    assert set(result.fusion_alone) == set(model.modalities)


def test_fusion_dropout_reaches_no_encoder_and_leaves_running_statistics_alone():
    model, batch = MODELS["mlp_head"](), batch_for("mlp_head")
    plain = copy.deepcopy(model)
    result = dgl_loss(
        model.encode(batch), model.fusion, batch["label"], alpha=ALPHA, fusion_dropout=3.0
    )
    for m in model.modalities:
        from_dropped = torch.autograd.grad(
            sum(result.fusion_alone.values()),
            model.encoder_parameters(m),
            retain_graph=True,
            allow_unused=True,
        )
        assert all(g is None for g in from_dropped)
    result.backward()
    drop_in_gradients(plain, batch, "dgl")
    for p, q in zip(model.encoders.parameters(), plain.encoders.parameters(), strict=True):
        torch.testing.assert_close(p.grad, q.grad)
    for b, c in zip(model.buffers(), plain.buffers(), strict=True):
        torch.testing.assert_close(b, c, rtol=0, atol=0)
    assert not torch.allclose(model.fusion.net[0].weight.grad, plain.fusion.net[0].weight.grad)


# ----------------------------------------------------------------------------- the routed form


class CrossGatedModel(nn.Module):
    """A fusion that runs encoder layers (MMTM-style): each encoder's second layer runs inside the
    fusion, after a gate computed from both modalities' first layers."""

    def __init__(self) -> None:
        super().__init__()
        self.first = nn.ModuleDict({"a": nn.Linear(5, 6), "b": nn.Linear(4, 6)})
        self.second = nn.ModuleDict({"a": nn.Linear(6, 6), "b": nn.Linear(6, 6)})
        self.gate = nn.Linear(12, 12)
        self.head = nn.Linear(12, 3)

    def encode(self, x):
        return {m: torch.tanh(self.first[m](x[m])) for m in ("a", "b")}

    def fuse(self, feats):
        gates = torch.sigmoid(self.gate(torch.cat([feats["a"], feats["b"]], 1))).chunk(2, dim=1)
        return self.head(torch.cat([self.second[m](g * feats[m]) for m, g in zip("ab", gates)], 1))

    def groups(self):
        encoders = {
            m: [*self.first[m].parameters(), *self.second[m].parameters()] for m in ("a", "b")
        }
        return encoders, [*self.gate.parameters(), *self.head.parameters()]


def test_the_routed_form_writes_each_loss_into_the_groups_it_names():
    torch.manual_seed(0)
    model = CrossGatedModel().double()
    x = {"a": torch.randn(8, 5, dtype=torch.float64), "b": torch.randn(8, 4, dtype=torch.float64)}
    y = torch.randint(3, (8,))
    encoders, fusion = model.groups()
    feats = model.encode(x)
    zeroed = {
        m: model.fuse({n: z if n == m else torch.zeros_like(z) for n, z in feats.items()})
        for m in feats
    }
    detached = {m: z.detach() for m, z in feats.items()}
    expected_fusion = grads(F.cross_entropy(model.fuse(detached), y), fusion)
    expected = {
        m: [ALPHA * g for g in grads(F.cross_entropy(zeroed[m], y), encoders[m])] for m in feats
    }
    result = dgl_loss(
        model.encode(x),
        model.fuse,
        y,
        alpha=ALPHA,
        encoder_parameters=encoders,
        fusion_parameters=fusion,
    )
    assert not result.loss.requires_grad  # the routed form is backpropagated by result.backward()
    result.backward()
    for p, g in zip(fusion, expected_fusion, strict=True):
        torch.testing.assert_close(p.grad, g)
    for m in feats:
        for p, g in zip(encoders[m], expected[m], strict=True):
            torch.testing.assert_close(p.grad, g)
        assert any(g.abs().sum() > 0 for g in expected[m])


def test_a_fusion_that_runs_encoder_layers_is_sent_to_the_routed_form():
    model = CrossGatedModel()
    x = {"a": torch.randn(8, 5), "b": torch.randn(8, 4)}
    with pytest.raises(ValueError, match="depend on parameters of the fusion.*encoder_parameters"):
        dgl_loss(model.encode(x), model, torch.randint(3, (8,)))


# ----------------------------------------------------------------------------- bad input


def test_features_and_fusion_with_different_names_are_refused():
    model, batch = tiny_model(VECTORS), make_batch(VECTORS)
    feats = model.encode(batch)
    renamed = {"sound": feats["audio"], "visual": feats["visual"]}
    with pytest.raises(ValueError, match="'audio', 'visual', the features are 'sound', 'visual'"):
        dgl_loss(renamed, model.fusion, batch["label"])
    head = nn.Linear(14, 5).double()
    with pytest.raises(ValueError, match="looked up modality 'audio'.*'sound', 'visual'"):
        dgl_loss(renamed, ModuleOf(head), batch["label"])


class ModuleOf(nn.Module):
    """An nn.Module fusion around a head, reading 'audio' and 'visual' by name."""

    def __init__(self, head: nn.Module) -> None:
        super().__init__()
        self.head = head

    def forward(self, feats):
        return self.head(torch.cat([feats["audio"], feats["visual"]], 1))


def test_a_feature_without_grad_is_refused():
    model, batch = tiny_model(VECTORS), make_batch(VECTORS)
    feats = model.encode(batch)
    with pytest.raises(ValueError, match=r"features\['visual'\] does not require grad"):
        dgl_loss(
            {"audio": feats["audio"], "visual": feats["visual"].detach()},
            model.fusion,
            batch["label"],
        )


def test_a_function_with_parameters_of_its_own_is_refused_and_a_module_is_asked_for():
    model, batch = tiny_model(VECTORS), make_batch(VECTORS)
    head = nn.Linear(16, 5).double()

    def fuse(feats):
        return head(torch.cat([feats["audio"], feats["visual"]], 1))

    with pytest.raises(TypeError, match="pass the nn.Module"):
        dgl_loss(model.encode(batch), fuse, batch["label"])


def test_a_fusion_that_ignores_a_modality_is_refused():
    model, batch = tiny_model(VECTORS), make_batch(VECTORS)
    head = nn.Linear(8, 5).double()
    with pytest.raises(ValueError, match="does not depend on features 'visual'"):
        dgl_loss(model.encode(batch), OnlyAudio(head), batch["label"])


class OnlyAudio(nn.Module):
    def __init__(self, head: nn.Module) -> None:
        super().__init__()
        self.head = head

    def forward(self, feats):
        return self.head(feats["audio"])


def test_bad_routed_groups_are_refused():
    model = CrossGatedModel()
    x = {"a": torch.randn(8, 5), "b": torch.randn(8, 4)}
    y = torch.randint(3, (8,))
    encoders, fusion = model.groups()
    with pytest.raises(ValueError, match="needs both"):
        dgl_loss(model.encode(x), model.fuse, y, encoder_parameters=encoders)
    with pytest.raises(ValueError, match="overlap"):
        dgl_loss(
            model.encode(x),
            model.fuse,
            y,
            encoder_parameters=encoders,
            fusion_parameters=fusion + encoders["a"],
        )
    with pytest.raises(ValueError, match="one group per modality"):
        dgl_loss(
            model.encode(x),
            model.fuse,
            y,
            encoder_parameters={"a": encoders["a"]},
            fusion_parameters=fusion,
        )
