"""The Method interface: hyperparameters, steps, predictions, vanilla_lr's groups, unimodal independence."""

from __future__ import annotations

import copy

import pytest
import torch
import torch.nn.functional as F

from dglnb.methods import METHODS
from dglnb.registry import UnknownNameError
from tiny_models import AUDIO_VISUAL, VECTORS, grads, make_batch, tiny_model


def test_all_methods_are_registered_and_unknown_names_list_them():
    assert {"vanilla", "unimodal", "dgl", "dgl_mt", "dgl_ut", "vanilla_lr", "joint_aux"} <= set(
        METHODS.names()
    )
    with pytest.raises(UnknownNameError, match="valid methods: .*dgl.*vanilla"):
        METHODS.get("dlg")


ALPHA_METHODS = (
    "dgl",
    "dgl_mt",
    "dgl_ut",
    "joint_aux",
    "vanilla_lr",
)  # weight or scale by the unimodal losses


def test_alpha_belongs_to_the_methods_that_use_it_and_is_no_option_of_theirs():
    assert sorted(m for m in METHODS.names() if METHODS.get(m).takes("alpha")) == sorted(
        ALPHA_METHODS
    )
    assert all("alpha" not in METHODS.get(m).options() for m in METHODS.names())
    assert METHODS.get("dgl")(alpha=2.5).alpha == 2.5
    with pytest.raises(TypeError, match="OGMGE got unknown hyperparameters: alpha"):
        METHODS.get("ogm_ge")(alpha=1.0)


@pytest.mark.parametrize("method", METHODS.names())
def test_hyperparameters_are_validated(method):
    cls = METHODS.get(method)
    if method in ALPHA_METHODS:
        with pytest.raises(ValueError, match="alpha must be >= 0"):
            cls(alpha=-1.0)
    with pytest.raises(ValueError, match="grad_clip"):
        cls(grad_clip=0.0)
    with pytest.raises(TypeError, match="unknown hyperparameters: alhpa"):
        cls(alhpa=1.0)


@pytest.mark.parametrize("method", METHODS.names())
def test_train_step_updates_the_model_and_returns_float_losses(method):
    model, batch = tiny_model(VECTORS, "concat"), make_batch(VECTORS)
    algo = METHODS.get(method)(grad_clip=1.0)
    algo.setup(model)
    before = copy.deepcopy(model.encoders)
    losses = algo.train_step(model, batch, torch.optim.SGD(algo.param_groups(model, 0.1)))
    assert losses and all(isinstance(v, float) for v in losses.values())
    for m in model.modalities:
        assert not torch.equal(model.encoders[m].net[0].weight, before[m].net[0].weight)


@pytest.mark.parametrize("method", METHODS.names())
def test_method_state_round_trips_after_an_epoch_start_and_a_step(method):
    model, batch = tiny_model(VECTORS), make_batch(VECTORS)
    loaders = {
        "train": [batch],
        "train_eval": [batch],
        "val": [make_batch(VECTORS, seed=2)],
        "test": [],
    }
    algo = METHODS.get(method)()
    algo.setup(model)
    optimizer = torch.optim.SGD(algo.param_groups(model, 0.1))
    algo.on_epoch_start(0, model, loaders, optimizer)
    algo.train_step(model, batch, optimizer)
    restored = METHODS.get(method)()
    restored.load_state_dict(algo.state_dict())
    torch.testing.assert_close(restored.state_dict(), algo.state_dict(), rtol=0, atol=0)


def test_predict_gives_the_multimodal_and_the_zeroed_unimodal_logits():
    model, batch = tiny_model(VECTORS, "film"), make_batch(VECTORS)
    out = METHODS.get("dgl")().predict(model, batch)
    assert list(out) == ["multimodal", "audio", "visual"]
    torch.testing.assert_close(out["multimodal"], model(batch))
    torch.testing.assert_close(out["audio"], model(batch, zero=["visual"]))
    torch.testing.assert_close(out["visual"], model(batch, zero=["audio"]))


@pytest.mark.parametrize(
    ("kw", "factor"), [({}, 5.0), ({"alpha": 2.0}, 3.0), ({"lr_factor": 1.5}, 1.5)]
)
def test_vanilla_lr_scales_the_encoder_learning_rate(kw, factor):
    model = tiny_model(AUDIO_VISUAL)
    groups = METHODS.get("vanilla_lr")(**kw).param_groups(model, lr=0.01)
    encoders = {id(p) for m in model.modalities for p in model.encoder_parameters(m)}
    fusion = {id(p) for p in model.fusion_parameters()}
    assert [({id(p) for p in g["params"]}, g["lr"]) for g in groups] == [
        (encoders, 0.01 * factor),
        (fusion, 0.01),
    ]


def test_vanilla_lr_computes_the_vanilla_gradient():
    model, batch = tiny_model(VECTORS), make_batch(VECTORS)
    expected = grads(F.cross_entropy(model(batch), batch["label"]), list(model.parameters()))
    METHODS.get("vanilla_lr")().compute_gradients(model, batch)
    for p, g in zip(model.parameters(), expected, strict=True):
        torch.testing.assert_close(p.grad, g)


def unimodal_setup(info, seed=0):
    model = tiny_model(info, seed=seed)
    algo = METHODS.get("unimodal")(
        grad_clip=0.01
    )  # a tight clip: a shared norm would couple the modalities
    algo.setup(model)
    return model, algo


def test_unimodal_predicts_each_modality_with_its_own_head_only():
    model, algo = unimodal_setup(VECTORS)
    batch = make_batch(VECTORS)
    out = algo.predict(model, batch)
    assert list(out) == ["audio", "visual"]
    torch.testing.assert_close(
        out["audio"], model.unimodal_heads["audio"](model.encoders["audio"](batch["audio"]))
    )
    assert any(k.startswith("unimodal_heads.visual.") for k in model.state_dict())


def test_unimodal_optimizes_encoders_and_heads_not_the_fusion():
    model, algo = unimodal_setup(VECTORS)
    params = {id(p) for g in algo.param_groups(model, 0.1) for p in g["params"]}
    assert params == {id(p) for p in model.parameters()} - {
        id(p) for p in model.fusion_parameters()
    }


@pytest.mark.parametrize("info", [VECTORS, AUDIO_VISUAL], ids=["vectors", "av"])
def test_unimodal_audio_training_does_not_depend_on_the_visual_input(info):
    batch = make_batch(info)
    other = dict(batch, visual=torch.randn_like(batch["visual"]))
    trained = []
    for b in (batch, other):
        model, algo = unimodal_setup(info)
        losses = algo.train_step(
            model, b, torch.optim.SGD(algo.param_groups(model, 0.5), momentum=0.9)
        )
        trained.append((model, losses))
    (first, losses_1), (second, losses_2) = trained
    assert (
        losses_1["loss_audio"] == losses_2["loss_audio"]
        and losses_1["loss_visual"] != losses_2["loss_visual"]
    )
    for name in ("encoders.audio", "unimodal_heads.audio"):
        for (k, p), q in zip(
            first.get_submodule(name).named_parameters(), second.get_submodule(name).parameters()
        ):
            assert torch.equal(p, q), f"{name}.{k}"
    assert not torch.equal(
        first.unimodal_heads["visual"].weight, second.unimodal_heads["visual"].weight
    )
