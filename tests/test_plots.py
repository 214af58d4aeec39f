"""The book's figures: each built from a small synthetic table draws what its docstring says (the
seeds and their summary, labelled axes, a legend where several series are drawn), in the shared
style, without touching matplotlib's global settings."""

import os
import subprocess
import sys
from types import SimpleNamespace

import matplotlib
import numpy as np
import pandas as pd
import pytest
import seaborn as sns
import torch
from matplotlib.collections import PolyCollection

from dglnb.analysis import plots

matplotlib.use("Agg")

EPOCHS = [1, 2, 3]
CURVES = pd.DataFrame(
    {"seed0": [1.0, 2.0, 4.0], "seed1": [3.0, 2.5, 5.0], "seed2": [2.0, 3.0, 6.0]}, index=EPOCHS
)


def legend_texts(owner) -> list[str]:
    """The entries of an axis's legend, or of a figure's one legend."""
    legend = owner.get_legend() if isinstance(owner, matplotlib.axes.Axes) else owner.legends[0]
    return [t.get_text() for t in legend.get_texts()]


def saved(fig, name: str, home, monkeypatch) -> None:
    """Save ``fig`` the book's way (under ``home``) and check a PNG came out."""
    monkeypatch.setenv("DGLNB_HOME", str(home))
    path = plots.save_figure(fig, name, "quick")
    assert path == home / "book" / "figures" / "quick" / f"{name}.png"
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_importing_plots_and_drawing_leaves_matplotlib_settings_unchanged(tmp_path):
    code = f"""
import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt
import pandas as pd
before = dict(matplotlib.rcParams)
from dglnb.analysis import plots
curves = pd.DataFrame({{"seed0": [1.0, 2.0], "seed1": [2.0, 3.0]}})
fig = plots.curve_panels([("a", {{"vanilla": curves}})], ylabel="accuracy")
fig.savefig({str(tmp_path / "a.png")!r})
plots.heatmap(pd.DataFrame([[1.0]]), xlabel="x", ylabel="y").savefig({str(tmp_path / "b.png")!r})
changed = sorted(k for k in before if matplotlib.rcParams[k] != before[k])
assert changed == [], changed
"""
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )
    assert result.returncode == 0, result.stderr


def test_the_style_holds_inside_its_block_only_also_after_an_error():
    before = matplotlib.rcParams["figure.dpi"], matplotlib.rcParams["axes.spines.top"]
    with pytest.raises(RuntimeError), plots.style():
        assert matplotlib.rcParams["figure.dpi"] == 110
        assert matplotlib.rcParams["axes.spines.top"] is False
        raise RuntimeError
    assert (matplotlib.rcParams["figure.dpi"], matplotlib.rcParams["axes.spines.top"]) == before


def test_seed_band_draws_the_mean_over_seeds_and_a_band_from_the_smallest_to_the_largest():
    fig, ax = matplotlib.pyplot.subplots()
    plots.seed_band(ax, CURVES, "vanilla", color="C2")
    (line,) = ax.get_lines()
    assert line.get_label() == "vanilla"
    assert list(line.get_xdata()) == EPOCHS
    assert np.allclose(line.get_ydata(), CURVES.mean(axis=1))
    (band,) = [c for c in ax.collections if isinstance(c, PolyCollection)]
    vertices = band.get_paths()[0].vertices
    for epoch in EPOCHS:
        at_epoch = vertices[vertices[:, 0] == epoch, 1]
        assert (at_epoch.min(), at_epoch.max()) == (
            CURVES.loc[epoch].min(),
            CURVES.loc[epoch].max(),
        )


def test_curve_panels_draws_one_labelled_axis_per_panel_with_a_legend(tmp_path, monkeypatch):
    fig = plots.curve_panels(
        [("a", {"vanilla": CURVES}), ("b " * 30, {"dgl": CURVES, "vanilla": CURVES})],
        ylabel=["accuracy (%)", "mean |grad|"],
        log=[False, True],
    )
    assert len(fig.axes) == 2 and fig.axes[1].get_yscale() == "log"
    assert len(fig.axes[1].get_lines()) == 2
    assert [ax.get_xlabel() for ax in fig.axes] == ["epoch", "epoch"]
    assert [ax.get_ylabel() for ax in fig.axes] == ["accuracy (%)", "mean |grad|"]
    assert legend_texts(fig.axes[1]) == ["dgl", "vanilla"]
    assert (
        "\n" in fig.axes[1].get_title()
    )  # a long title wraps instead of running into the next panel
    saved(fig, "curve_panels", tmp_path, monkeypatch)


def test_seed_dots_draws_each_seed_their_mean_and_std_and_the_reference(tmp_path, monkeypatch):
    values = {"concat": [70.0, 72.0, 74.0], "dgl": [80.0, 81.0, 82.5]}
    fig = plots.seed_dots({"avdigits": (values, {"concat": 65.1, "dgl": None})}, xlabel="accuracy")
    (ax,) = fig.axes
    assert [t.get_text() for t in ax.get_yticklabels()] == ["concat", "dgl"]  # top to bottom
    assert ax.get_xlabel() == "accuracy"
    dots = np.concatenate([c.get_offsets() for c in ax.collections])
    assert sorted(dots[:, 0]) == sorted(v for seeds in values.values() for v in seeds)
    assert sorted(np.round(dots[dots[:, 0] < 75, 1])) == [0, 0, 0]  # concat's seeds on its row
    mean, *whiskers = [
        line
        for line in ax.get_lines()
        if line.get_label() == "this run, mean ± std" or line.get_label().startswith("_child")
    ]
    assert np.allclose(mean.get_xdata(), [72.0, np.mean(values["dgl"])])
    assert np.allclose(whiskers[0].get_xdata(), [72.0 - 2.0, 72.0 + 2.0])  # sample std over seeds
    (reference,) = [line for line in ax.get_lines() if line.get_label() == "paper"]
    assert (list(reference.get_xdata()), list(reference.get_ydata())) == ([65.1], [0])
    assert legend_texts(fig) == ["this run, one seed", "this run, mean ± std", "paper"]
    saved(fig, "seed_dots", tmp_path, monkeypatch)


def test_measure_bars_draws_each_mean_with_its_seed_std_and_leaves_a_missing_one_out(
    tmp_path, monkeypatch
):
    def stats(mean, std):
        return {"mean": mean, "std": std, "n": 3}

    measures = {
        "trained alone": {"audio": stats(0.6, 0.02), "visual": stats(0.7, 0.01)},
        "vanilla: zeroed head": {"audio": stats(0.3, 0.05), "visual": None},
    }
    fig = plots.measure_bars(measures, ylabel="test accuracy (%)")
    (ax,) = fig.axes
    heights = {
        (measure, round(bar.get_x() + bar.get_width() / 2)): bar.get_height()
        for measure, bars in zip(measures, ax.containers)
        for bar in bars
    }
    assert heights == pytest.approx(
        {("trained alone", 0): 60.0, ("trained alone", 1): 70.0, ("vanilla: zeroed head", 0): 30.0}
    )
    spans = sorted(
        tuple(np.round(seg[:, 1], 6)) for c in ax.collections for seg in c.get_segments()
    )
    assert spans == [(25.0, 35.0), (58.0, 62.0), (69.0, 71.0)]  # mean ± std, in %
    assert [t.get_text() for t in ax.get_xticklabels()] == ["audio", "visual"]
    assert ax.get_ylabel() == "test accuracy (%)"
    assert legend_texts(ax) == list(measures)
    saved(fig, "measure_bars", tmp_path, monkeypatch)


def test_ratio_histograms_label_each_set_with_its_share_left_of_zero(tmp_path, monkeypatch):
    fig = plots.ratio_histograms(
        {"m2_right": np.array([0.1, 0.5, 2.0, 0.01]), "m2_wrong": np.array([3.0, 10.0])},
        title="exact gradient",
    )
    (ax,) = fig.axes
    assert sorted(legend_texts(ax)) == ["m2_right (75% < 0)", "m2_wrong (0% < 0)"]
    assert ax.get_ylabel() == "samples" and "log_{10}" in ax.get_xlabel()
    saved(fig, "ratio_histograms", tmp_path, monkeypatch)


SWEEP = pd.DataFrame(
    [[70.0, 72.5, np.nan], [60.0, 61.0, 64.25]],
    index=pd.Index(["avdigits", "synthetic"], name="dataset"),
    columns=pd.Index([1, 4, 16], name="alpha"),
)


def test_heatmap_writes_each_number_in_its_cell_and_labels_the_axes_from_the_frame(
    tmp_path, monkeypatch
):
    fig = plots.heatmap(SWEEP, title="DGL", value_label="accuracy, %", fmt=".2f")
    ax, colorbar = fig.axes
    assert sorted(t.get_text() for t in ax.texts) == [
        "60.00",
        "61.00",
        "64.25",
        "70.00",
        "72.50",
    ]  # NaN: blank
    assert (ax.get_xlabel(), ax.get_ylabel(), ax.get_title()) == ("alpha", "dataset", "DGL")
    assert [t.get_text() for t in ax.get_xticklabels()] == ["1", "4", "16"]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["avdigits", "synthetic"]
    assert colorbar.get_ylabel() == "accuracy, %"
    saved(fig, "heatmap", tmp_path, monkeypatch)


def test_heatmap_takes_axis_labels_and_a_centred_map_for_differences():
    iou = pd.DataFrame({"dgl - vanilla": [-3.0, 5.0]}, index=["wall", "floor"])
    fig = plots.heatmap(iou, xlabel="model", ylabel="class", center=0.0)
    ax = fig.axes[0]
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("model", "class")
    mesh = ax.collections[0]
    middle = sns.color_palette("vlag", as_cmap=True)(0.5)
    assert np.allclose(
        mesh.cmap(mesh.norm(0.0)), middle, atol=0.01
    )  # 0 takes the map's middle colour


@pytest.mark.parametrize(
    "frame, message",
    [
        (pd.DataFrame([[1.0]]), "unnamed axes"),
        (SWEEP.iloc[:0], "no cells"),
        (SWEEP.map(lambda v: f"{v} ± 1"), "must be a number"),
    ],
)
def test_heatmap_refuses_a_frame_it_cannot_draw_honestly(frame, message):
    with pytest.raises(ValueError, match=message):
        plots.heatmap(frame)


def test_segmentation_examples_put_one_scene_per_row_and_one_column_per_picture():
    class Scenes:
        info = SimpleNamespace(num_classes=3, class_names=["wall", "floor", "bed"])

        def __getitem__(self, i):
            label = torch.full((4, 4), i % 3)
            label[0, 0] = 255  # unlabelled
            return {"rgb": torch.zeros(3, 4, 4), "depth": torch.rand(1, 4, 4), "label": label}

    class Constant(torch.nn.Module):
        def forward(self, batch):
            return torch.zeros(batch["rgb"].shape[0], 3, 4, 4)

    fig = plots.segmentation_examples(Scenes(), {"vanilla": Constant(), "dgl": Constant()}, [0, 1])
    assert len(fig.axes) == 2 * 5
    assert [ax.get_title() for ax in fig.axes[:5]] == [
        "RGB",
        "depth",
        "ground truth",
        "vanilla",
        "dgl",
    ]
    assert [t.get_text() for t in fig.legends[0].get_texts()] == ["wall", "floor", "bed"]
