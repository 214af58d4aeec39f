"""Diagnostics measure gradients and s without changing the model, its gradients or the random state."""

import math

import matplotlib
import pandas as pd
import pytest
import torch

from dglnb.analysis import dynamics
from dglnb.data import DatasetInfo
from dglnb.methods import METHODS
from dglnb.models import build_model
from dglnb.train import gradients

matplotlib.use("Agg")

VECTOR = DatasetInfo(
    "toy", ("a", "b"), {"a": "vector", "b": "vector"}, 4, shapes={"a": (6,), "b": (5,)}
)
IMAGE = DatasetInfo(
    "toy_bn", ("a", "b"), {"a": "image", "b": "vector"}, 3, shapes={"a": (1, 16, 16), "b": (5,)}
)


def batch_for(info: DatasetInfo, n: int = 8) -> dict:
    torch.manual_seed(1)
    batch = {m: torch.randn(n, *info.shapes[m]) for m in info.modalities}
    return {**batch, "label": torch.arange(n) % info.num_classes, "id": [str(i) for i in range(n)]}


def test_one_row_per_modality_with_the_documented_columns():
    model = build_model(VECTOR, hidden=8)
    rows = gradients.measure(model, batch_for(VECTOR))
    assert [r["modality"] for r in rows] == ["a", "b"]
    assert all(
        set(r) == set(gradients.COLUMNS) - {"epoch", "step", "grad_applied", "head_block_norm"}
        for r in rows
    )
    assert all(
        r["grad_multimodal"] > 0 and r["grad_unimodal"] > 0 and 0 <= r["s_frac_below_1"] <= 1
        for r in rows
    )


def test_after_a_dgl_step_the_applied_encoder_gradient_is_alpha_times_the_unimodal_one():
    model = build_model(VECTOR, hidden=8)
    batch = batch_for(VECTOR)
    rows = {r["modality"]: r for r in gradients.measure(model, batch)}
    METHODS.get("dgl")(alpha=4.0).compute_gradients(model, batch)
    applied = gradients.after_step(model)
    for m in ("a", "b"):
        assert applied[m]["grad_applied"] == pytest.approx(4.0 * rows[m]["grad_unimodal"], rel=1e-5)
    blocks = gradients.head_blocks(model)
    assert torch.equal(torch.cat([blocks["a"], blocks["b"]], dim=1), model.fusion.head.weight)
    assert applied["a"]["head_block_norm"] == pytest.approx(
        float(model.fusion.head.weight[:, :8].norm())
    )


def test_the_unimodal_method_s_head_block_is_its_own_head():
    model = build_model(VECTOR, hidden=8)
    METHODS.get("unimodal")().setup(model)
    assert gradients.head_blocks(model)["b"] is model.unimodal_heads["b"].weight


def test_s_is_the_mean_over_samples_and_wrong_classes_of_exp_w_difference_times_z():
    model = build_model(VECTOR, hidden=3)
    batch = batch_for(VECTOR)
    feats = model.encode(batch)
    weight = model.fusion.head.weight.detach()
    s = gradients.concat_s(model, feats, batch["label"])
    for m, cols in (("a", slice(0, 3)), ("b", slice(3, 6))):
        values = [
            math.exp(float((weight[k, cols] - weight[y, cols]) @ feats[m][i].detach()))
            for i, y in enumerate(batch["label"].tolist())
            for k in range(4)
            if k != y
        ]
        assert s[m][0] == pytest.approx(sum(values) / len(values), rel=1e-6)
        assert s[m][1] == pytest.approx(sum(v < 1 for v in values) / len(values))
        assert s[m][2] == pytest.approx(
            sorted(values)[(len(values) - 1) // 2], rel=1e-6
        )  # the lower median


def test_s_is_nan_for_a_fusion_without_a_concat_head():
    rows = gradients.measure(build_model(VECTOR, fusion="sum", hidden=8), batch_for(VECTOR))
    assert all(math.isnan(r["s_mean"]) and math.isnan(r["s_median"]) for r in rows)


def test_measuring_leaves_batchnorm_statistics_grads_and_random_state_untouched():
    model = build_model(IMAGE, width=2, hidden=4).train()
    batch = batch_for(IMAGE)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    rng = torch.get_rng_state()
    gradients.measure(model, batch)
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert all(p.grad is None for p in model.parameters())
    assert torch.equal(rng, torch.get_rng_state())


def test_plot_reads_diagnostics_csv(tmp_path):
    rows = gradients.measure(build_model(VECTOR, hidden=8), batch_for(VECTOR))
    path = tmp_path / "diagnostics.csv"
    pd.DataFrame([{"epoch": e, "step": e, **r} for e in range(3) for r in rows]).to_csv(
        path, index=False
    )
    fig = dynamics.plot_dynamics({"vanilla": path}, tmp_path / "fig.png")
    assert (tmp_path / "fig.png").stat().st_size > 0 and len(fig.axes) == 6
