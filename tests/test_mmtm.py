"""MMTM dense fusion: the transfer module's formula, zeroing at every module, BatchNorm statistics, the
parameter groups under DGL and the other methods, and the error on inputs it does not fit.
(DGL's gradient routing on MMTM is checked with the late fusions in test_routing.py.)"""

from __future__ import annotations

import copy

import pytest
import torch

from dglnb.errors import ConfigError
from dglnb.methods import METHODS
from dglnb.methods.dnr import split_features
from dglnb.models import build_model
from dglnb.models.mmtm import MMTMClassifier, TransferModule
from tiny_models import SMALL_AUDIO_VISUAL as AV
from tiny_models import VECTORS, grads, make_batch, one_step, tiny_model


def test_transfer_module_rescales_each_stream_by_twice_the_sigmoid_of_its_excitation():
    """Joze et al. eq. 3-5 by hand: S = spatial means, Z = relu(W [S_a; S_v] + b), A' = 2 sigmoid(W_a Z + b_a) A."""
    torch.manual_seed(0)
    module = TransferModule({"a": 4, "v": 6}).double()
    assert module.squeeze.out_features == 2 * (4 + 6) // (2 * 4)  # the official bottleneck, ratio 4
    a, v = (
        torch.randn(3, 1, 4, 5, 5, dtype=torch.float64),
        torch.randn(3, 2, 6, 4, 4, dtype=torch.float64),
    )
    z = torch.relu(module.squeeze(torch.cat([a.mean(dim=(1, 3, 4)), v.mean(dim=(1, 3, 4))], dim=1)))
    out = module({"a": a, "v": v}, batch_size=3)
    for name, x in (("a", a), ("v", v)):
        gate = 2 * torch.sigmoid(z @ module.excite[name].weight.T + module.excite[name].bias)
        torch.testing.assert_close(out[name], gate[:, None, :, None, None] * x)


def test_transfer_module_reads_an_absent_stream_as_zeros():
    torch.manual_seed(0)
    module = TransferModule({"a": 4, "v": 6}).double()
    a = torch.randn(3, 1, 4, 2, 2, dtype=torch.float64)
    alone = module({"a": a}, batch_size=3)
    zeros = module({"a": a, "v": torch.zeros(3, 1, 6, 2, 2, dtype=torch.float64)}, batch_size=3)
    assert list(alone) == ["a"]
    torch.testing.assert_close(alone["a"], zeros["a"])


def test_a_unimodal_path_depends_on_its_own_input_only():
    """The other modality is zero at every transfer module, not only at the first: changing its input, or
    its encoder, leaves the audio path's logits unchanged, while the multimodal logits change."""
    model, batch = tiny_model(AV, "mmtm").eval(), make_batch(AV)
    other = dict(batch, visual=torch.randn_like(batch["visual"]))
    torch.testing.assert_close(model(batch, zero=["visual"]), model(other, zero=["visual"]))
    assert not torch.allclose(model(batch), model(other))
    grad_visual = grads(
        model.loss(model(batch, zero=["visual"]), batch["label"]),
        model.encoder_parameters("visual"),
    )
    assert all(torch.equal(g, torch.zeros_like(g)) for g in grad_visual)


def test_the_unimodal_logits_are_the_head_on_the_stream_alone_with_the_other_block_zero():
    model, batch = tiny_model(AV, "mmtm"), make_batch(AV)
    z = model.modality_features(batch)
    assert {m: tuple(v.shape) for m, v in z.items()} == {"audio": (6, 32), "visual": (6, 32)}
    head = model.fusion.head
    feats = model.encode(batch)
    torch.testing.assert_close(
        model.fuse_alone(feats, "audio"), z["audio"] @ head.weight[:, :32].T + head.bias
    )
    torch.testing.assert_close(
        model.fuse_alone(feats, "visual"), z["visual"] @ head.weight[:, 32:].T + head.bias
    )


def test_dgl_reaches_every_stage_of_both_encoders_and_every_transfer_module():
    model, batch = tiny_model(AV, "mmtm"), make_batch(AV)
    METHODS.get("dgl")().compute_gradients(model, batch)
    for m in model.modalities:
        for layer in model.encoders[m].backbone.layers:
            assert layer[0].conv1.weight.grad.abs().sum() > 0, m
    for transfer in model.fusion.transfers:
        assert all(p.grad.abs().sum() > 0 for p in transfer.parameters())


def test_batchnorm_running_statistics_follow_the_multimodal_pass_only():
    model, batch = tiny_model(AV, "mmtm").train(), make_batch(AV)
    reference = copy.deepcopy(model)
    reference(batch)  # one multimodal forward pass
    METHODS.get("dgl")().compute_gradients(
        model, batch
    )  # two unimodal passes and one multimodal pass
    for (name, ours), theirs in zip(model.named_buffers(), reference.buffers(), strict=True):
        torch.testing.assert_close(ours, theirs, msg=name)


def test_zeroed_passes_in_training_normalise_with_batch_statistics():
    """Freezing the running statistics must not switch a zeroed pass to them (that is evaluation mode)."""
    model, batch = tiny_model(AV, "mmtm").train(), make_batch(AV)
    frozen = model(batch, zero=["visual"])
    assert not torch.allclose(frozen, copy.deepcopy(model).eval()(batch, zero=["visual"]))
    assert all(
        layer.track_running_stats
        for layer in model.modules()
        if isinstance(layer, torch.nn.BatchNorm2d)
    )


@pytest.mark.parametrize("method", METHODS.names())
def test_every_method_trains_mmtm(method):
    model, batch = tiny_model(AV, "mmtm"), make_batch(AV)
    losses, before = one_step(method, model, batch)
    assert losses and all(v > 0 for v in losses.values())
    for m in model.modalities:
        assert not torch.equal(
            model.encoders[m].backbone.layer4[1].conv2.weight,
            before.encoders[m].backbone.layer4[1].conv2.weight,
        )


def test_pmr_prototypes_are_class_centroids_of_the_pooled_streams():
    model, batch = tiny_model(AV, "mmtm"), make_batch(AV)
    pmr = METHODS.get("pmr")()
    pmr.update_prototypes(model, [batch], epoch=0)
    model.eval()
    with torch.no_grad():
        own = model.modality_feature(model.encode(batch), "visual")
    first = batch["label"][0]
    assert torch.allclose(pmr.prototypes["visual"][first], own[batch["label"] == first].mean(dim=0))
    losses = pmr.compute_gradients(model.train(), batch)
    assert {"loss_proto_audio", "loss_proto_visual"} <= set(losses)


def test_dnr_diagnoses_the_pooled_streams_not_the_feature_maps():
    """D&R clusters each modality's own feature vectors: on MMTM, the pooled streams (its encoders
    return feature maps, which k-means cannot read)."""
    model, batch = tiny_model(AV, "mmtm"), make_batch(AV)
    features, labels = split_features(model, [batch])
    model.eval()
    with torch.no_grad():
        own = model.modality_features(batch)
    for m in model.modalities:
        assert features[m].ndim == 2 and torch.equal(torch.from_numpy(features[m]), own[m].float())
    assert (labels == batch["label"].numpy()).all()
    diagnosis = METHODS.get("dnr")().diagnose(model, [batch], [batch])
    assert all(0 <= diagnosis[m]["weight"] < 1 for m in model.modalities)


def test_the_unimodal_method_trains_the_plain_encoders_without_the_transfer_modules():
    model, batch = tiny_model(AV, "mmtm"), make_batch(AV)
    algo = METHODS.get("unimodal")()
    algo.setup(model)
    algo.compute_gradients(model, batch)
    assert all(p.grad is None for p in model.fusion_parameters())
    torch.testing.assert_close(
        algo.predict(model, batch)["audio"],
        model.unimodal_heads["audio"](model.encoders["audio"](batch["audio"])),
    )


def test_parameter_groups_are_the_resnets_and_the_fusion():
    model = build_model(AV, "mmtm", width=4)
    assert isinstance(model, MMTMClassifier)
    fusion = {id(p) for p in model.fusion_parameters()}
    assert fusion == {id(p) for p in model.fusion.parameters()}
    for m in model.modalities:
        assert {id(p) for p in model.encoder_parameters(m)} == {
            id(p) for p in model.encoders[m].backbone.parameters()
        }
    groups = len(fusion) + sum(len(model.encoder_parameters(m)) for m in model.modalities)
    assert groups == len(list(model.parameters()))


def test_transfer_modules_start_as_the_identity():
    """Zero biases and the 2 sigmoid scaling: with a zero excitation weight the module passes the maps through."""
    model, batch = build_model(AV, "mmtm", width=4).double(), make_batch(AV)
    for transfer in model.fusion.transfers:
        for layer in transfer.excite.values():
            torch.nn.init.zeros_(layer.weight)
    feats = model.eval().encode(batch)
    plain = {m: model.encoders[m].eval()(batch[m]) for m in model.modalities}
    torch.testing.assert_close(
        model.fuse(feats), model.fusion.head(torch.cat([plain["audio"], plain["visual"]], 1))
    )


def test_mmtm_on_feature_vectors_is_a_clear_error():
    with pytest.raises(
        ConfigError, match="mmtm fusion needs convolutional feature maps.*audio: vector.*avdigits"
    ):
        build_model(VECTORS, "mmtm")
