"""Each head scored with batch-norm statistics of its own inputs where the fusion pass holds batch norm."""

import json

import torch
from torch import nn

from dglnb.config import TrainConfig
from dglnb.methods import METHODS
from dglnb.models.norm import norm_layers_in, recalibrated_stats
from dglnb.train import evaluation, loop, train
from tiny_models import RGBD, VECTORS, make_batch, tiny_model


def test_the_norm_layers_of_a_pass_are_the_ones_it_runs():
    model = tiny_model(RGBD).float().eval()
    feats = model.encode(
        {
            k: v.float() if torch.is_tensor(v) and v.is_floating_point() else v
            for k, v in make_batch(RGBD).items()
        }
    )
    in_fusion = {id(m) for m in model.fusion.modules() if isinstance(m, nn.BatchNorm2d)}
    layers = norm_layers_in(lambda: model.fuse(feats, ("depth",)), model)
    assert layers and {id(m) for m in layers} == in_fusion  # the decoder's, not the encoders'
    late = tiny_model(VECTORS).float()
    late_feats = late.encode(
        {
            k: v.float() if torch.is_tensor(v) and v.is_floating_point() else v
            for k, v in make_batch(VECTORS).items()
        }
    )
    assert norm_layers_in(lambda: late.fuse(late_feats), late) == []  # a linear head holds none


def test_recalibrated_statistics_are_the_average_over_the_passes_and_are_restored():
    layer = nn.BatchNorm1d(3)
    layer.running_mean.fill_(5.0)
    layer.eval()
    xs = [torch.randn(8, 3) + 2.0, torch.randn(4, 3) - 1.0]
    with recalibrated_stats([layer], [lambda x=x: layer(x) for x in xs]):
        assert not layer.training
        torch.testing.assert_close(layer.running_mean, (xs[0].mean(0) + xs[1].mean(0)) / 2)
    assert torch.equal(layer.running_mean, torch.full((3,), 5.0)) and layer.momentum == 0.1


def test_a_segmenter_s_heads_are_scored_with_their_own_statistics_beside_the_running_ones(tmp_path):
    config = TrainConfig(
        dataset="rgbd_scenes", method="dgl", profile="smoke", out=tmp_path, progress=False
    )
    metrics = train(config)
    saved = json.loads((tmp_path / "metrics.json").read_text())
    assert (
        set(saved["test_score_running_stats"])
        == set(saved["test_score"])
        == {"multimodal", "rgb", "depth"}
    )
    assert saved["test_score"] != saved["test_score_running_stats"]
    assert metrics["test_score"] == saved["test_score"]


def recorded_recalibrations(monkeypatch) -> tuple[list, list]:
    """Patches the final scoring of ``train``: returns (the models scored, the layer lists re-estimated)."""
    models, recalibrated = [], []

    def scoring(model, *args, **kwargs):
        models.append(model)
        return evaluation.final_scores(model, *args, **kwargs)

    def recalibrating(layers, passes):
        recalibrated.append(layers)
        return recalibrated_stats(layers, passes)

    monkeypatch.setattr(loop, "final_scores", scoring)
    monkeypatch.setattr(evaluation, "recalibrated_stats", recalibrating)
    return models, recalibrated


def test_final_scoring_re_estimates_the_fusion_s_batch_norm_only(tmp_path, monkeypatch):
    models, recalibrated = recorded_recalibrations(monkeypatch)
    train(
        TrainConfig(
            dataset="rgbd_scenes", method="dgl", profile="smoke", out=tmp_path, progress=False
        )
    )
    (model,) = models
    in_fusion = {id(m) for m in model.fusion.modules() if isinstance(m, nn.BatchNorm2d)}
    assert len(recalibrated) == 3  # the multimodal head and each modality alone
    assert all(layers and {id(m) for m in layers} <= in_fusion for layers in recalibrated)


def test_a_late_fusion_model_is_scored_with_its_training_statistics(tmp_path, monkeypatch):
    models, recalibrated = recorded_recalibrations(monkeypatch)
    config = TrainConfig(
        dataset="avdigits", method="dgl", profile="smoke", out=tmp_path, progress=False
    )
    metrics = train(config)
    (model,) = models
    assert any(isinstance(m, nn.BatchNorm2d) for m in model.modules())  # the encoders hold some
    assert recalibrated == []  # ... but the linear head after the fusion point none
    assert "test_score_running_stats" not in metrics and set(metrics["test_score"]) == {
        "multimodal",
        "audio",
        "visual",
    }


def test_a_unimodal_model_has_no_fused_head():
    assert METHODS.get("unimodal")().fused_heads(tiny_model(RGBD)) == {}


def test_a_segmenter_s_decoder_probe_scores_a_fresh_decoder_per_frozen_encoder(tmp_path):
    metrics = train(
        TrainConfig(
            dataset="rgbd_scenes", method="vanilla", profile="smoke", out=tmp_path, progress=False
        )
    )
    assert metrics["linear_probe"] is None and set(metrics["decoder_probe"]) == {"rgb", "depth"}
    assert all(0.0 <= v <= 1.0 for v in metrics["decoder_probe"].values())
    again = train(
        TrainConfig(
            dataset="rgbd_scenes",
            method="vanilla",
            profile="smoke",
            out=tmp_path / "again",
            progress=False,
        )
    )
    assert again["decoder_probe"] == metrics["decoder_probe"]  # deterministic
