"""The book's "this run vs the paper" tables: mean ± std strings in percent beside the paper's numbers."""

import pandas as pd

from dglnb import __version__, paper
from dglnb.analysis import dynamics, report
from dglnb.train import summarize


def run(multi, easy, hard, probe_hard):
    return {
        "test_score": {"multimodal": multi, "easy": easy, "hard": hard},
        "val_score": {},
        "linear_probe": {"easy": 0.7, "hard": probe_hard},
    }


SUMMARY = summarize([run(0.88, 0.70, 0.30, 0.66), run(0.90, 0.72, 0.28, 0.68)])


def test_mean_std_prints_percent_with_one_decimal():
    assert report.mean_std({"mean": 0.879, "std": 0.0134}) == "87.9 ± 1.3"
    assert report.mean_std({"mean": 0.879, "std": 0.0, "n": 1}) == "87.9"  # one seed: no spread
    assert report.mean_std(None) == "-"


def test_metric_table_has_one_row_per_run_and_one_column_per_metric():
    table = report.metric_table({"vanilla": SUMMARY}, report.score_metrics(["easy", "hard"]))
    assert list(table.columns) == [
        "multimodal",
        "easy (zeroed head)",
        "hard (zeroed head)",
        "easy (linear probe)",
        "hard (linear probe)",
    ]
    assert table.loc["vanilla", "multimodal"] == "89.0 ± 1.4"
    assert table.loc["vanilla", "hard (linear probe)"] == "67.0 ± 1.4"


def test_versus_paper_follows_the_paper_rows_and_marks_missing_runs():
    table = report.versus_paper(
        {"baseline": SUMMARY}, paper.TABLE3, ours="ours", names={"dgl_mt": "+MT"}
    )
    assert list(table.index) == ["baseline", "+MT", "dgl_ut", "dgl"]
    assert table.loc["baseline"].tolist() == ["89.0 ± 1.4", "65.10"]
    assert table.loc["+MT", "ours"] == "-" and table.loc["+MT", "paper (CREMA-D)"] == "73.31"


def test_sweep_versus_paper_pairs_each_method_with_the_paper_row_it_names():
    table = report.sweep_versus_paper(
        {"joint_aux": {1: SUMMARY}}, paper.TABLE4, ours="ours", names={"joint_aux": "gblending"}
    )
    assert list(table.columns) == [1, 2, 3, 4, 5]
    assert table.loc[("joint_aux", "ours")].tolist() == ["89.0 ± 1.4", "-", "-", "-", "-"]
    assert table.loc[("joint_aux", "paper (CREMA-D)"), 4] == "69.21"


def test_run_label_names_profile_dataset_and_seed_count():
    assert (
        report.run_label("quick", "synthetic", [0, 1, 2]) == "this run (quick, synthetic, 3 seeds)"
    )
    assert report.run_label("quick", "synthetic", [0]) == "this run (quick, synthetic, 1 seed)"


def write_run(folder, seed):
    folder.mkdir()
    pd.DataFrame({"epoch": [0, 1, 2], "test_hard": [0.1 * seed, 0.2, 0.3]}).to_csv(
        folder / "history.csv", index=False
    )
    rows = [
        {
            "epoch": e,
            "step": 2 * e + k,
            "modality": m,
            "grad_multimodal": g * (1 if e == 0 else 0.5),
            "grad_unimodal": g,
        }
        for e in range(3)
        for k in range(2)
        for m, g in (("easy", 2.0), ("hard", 1.0 + k))
    ]
    pd.DataFrame(rows).to_csv(folder / "diagnostics.csv", index=False)


def test_epoch_curves_has_one_column_per_run_indexed_by_epoch(tmp_path):
    runs = [tmp_path / "seed0", tmp_path / "seed1"]
    for seed, run in enumerate(runs):
        write_run(run, seed)
    history = report.epoch_curves(runs, "test_hard", scale=100)
    assert list(history.columns) == ["seed0", "seed1"] and list(history.index) == [0, 1, 2]
    assert history.loc[0].tolist() == [0.0, 10.0]
    hard = report.epoch_curves(
        runs, "grad_unimodal", "diagnostics.csv", modality="hard", reduce="median"
    )
    assert hard.loc[1, "seed0"] == 1.5  # median of the epoch's two steps (1.0, 2.0)


def test_ratio_by_phase_averages_multimodal_over_unimodal_gradient(tmp_path):
    runs = [tmp_path / "seed0", tmp_path / "seed1"]
    for seed, run in enumerate(runs):
        write_run(run, seed)
    phases = dynamics.ratio_by_phase(runs, "easy", early=1, late=2)
    assert phases["early"] == {"mean": 1.0, "std": 0.0, "n": 2}
    assert phases["late"]["mean"] == 0.5


def test_heads_versus_paper_puts_each_head_beside_the_paper_number():
    table = report.heads_versus_paper(
        {"vanilla": SUMMARY},
        {"vanilla": (59.62, 36.71, 65.1)},
        {"easy": "easy", "hard": "hard", "multimodal": "multimodal"},
        ours="ours",
    )
    assert table.loc["vanilla", ("hard", "ours")] == "29.0 ± 1.4"
    assert table.loc["vanilla", ("multimodal", "paper (CREMA-D)")] == "65.10"


def test_book_table_captions_the_run_and_renders_the_same_html_every_time():
    frame = pd.DataFrame(
        {"this run": ["87.9 ± 1.3"], "paper (CREMA-D)": ["65.10"]}, index=["baseline"]
    )
    table = report.table(frame, "Multimodal test accuracy, %", "quick", "avdigits", (0, 1, 2))
    caption = (
        f"Multimodal test accuracy, % (quick profile, avdigits, seeds 0, 1, 2; dglnb {__version__})"
    )
    assert repr(table).splitlines()[0] == caption
    html = table._repr_html_()
    assert f"<caption>{caption}</caption>" in html and html == table._repr_html_()
    assert (
        "italic" in html.split("</style>")[0].split("_row0_col1")[1]
    )  # the paper's column set apart
    other = report.table(frame.assign(**{"this run": ["80.0"]}), "Multimodal test accuracy, %")
    assert repr(other).splitlines()[0] == "Multimodal test accuracy, %"  # the paper's numbers alone
    assert (
        html.split('id="')[1] != other._repr_html_().split('id="')[1]
    )  # tables on one page never share ids


def test_segmentation_rows_put_fused_models_then_each_unimodal_model_beside_the_paper():
    fused = {
        "mIoU": {"mean": 0.7, "std": 0.01, "n": 3},
        "pixel": {"mean": 0.9, "std": 0.02, "n": 3},
        "rgb": {"mean": 0.5, "std": 0.0, "n": 3},
        "depth": {"mean": 0.3, "std": 0.0, "n": 3},
    }
    summary = {
        "test_score.multimodal": fused["mIoU"],
        "test_pixel_accuracy.multimodal": fused["pixel"],
        "test_score.rgb": fused["rgb"],
        "test_score.depth": fused["depth"],
    }
    unimodal = {
        "test_score.rgb": fused["rgb"],
        "test_pixel_accuracy.rgb": fused["pixel"],
        "test_score.depth": fused["depth"],
        "test_pixel_accuracy.depth": fused["pixel"],
    }
    table = report.segmentation_versus_paper(
        {"vanilla": summary},
        unimodal,
        ["rgb", "depth"],
        {"from_scratch": {"esanet": 38.59}},
        ours="ours",
        names={"vanilla": "baseline"},
        paper_names={"vanilla": "esanet"},
    )
    assert list(table.index) == ["baseline", "rgb only", "depth only"]
    assert table.loc["baseline"].tolist() == [
        "70.0 ± 1.0",
        "90.0 ± 2.0",
        "50.0 ± 0.0",
        "30.0 ± 0.0",
        "38.59",
    ]
    assert table.loc["depth only"].tolist() == ["30.0 ± 0.0", "90.0 ± 2.0", "-", "-", "-"]


def test_table1_marks_each_columns_best_and_second_best_among_the_ranked_rows():
    def summary(multi):
        return {"test_score.multimodal": {"mean": multi, "std": 0.01, "n": 2}}

    summaries = {
        "audio_only": {},
        "concat": summary(0.70),
        "ogm_ge": summary(0.80),
        "dgl": summary(0.75),
    }
    paper = {"audio_only": (None,), "concat": (65.10,), "ogm_ge": (68.82,), "dgl": (77.48,)}
    table = report.heads_versus_paper(
        summaries, paper, {"multimodal": "multi"}, ours="ours", ranked=["concat", "ogm_ge", "dgl"]
    )
    assert list(table[("multi", "ours")]) == [
        "-",
        "70.0 ± 1.0",
        "80.0 ± 1.0 (1st)",
        "75.0 ± 1.0 (2nd)",
    ]
    assert list(table[("multi", "paper (CREMA-D)")]) == ["-", "65.10", "68.82 (2nd)", "77.48 (1st)"]


def test_run_costs_sums_each_runs_epochs_and_compares_with_the_baseline(tmp_path):
    def run(name, seconds):
        (tmp_path / name).mkdir()
        pd.DataFrame({"epoch": range(len(seconds)), "seconds": seconds}).to_csv(
            tmp_path / name / "timing.csv", index=False
        )
        return tmp_path / name

    costs = report.run_costs(
        {
            "avdigits": {
                "vanilla": [run("v0", [1.0, 2.0]), run("v1", [2.0, 3.0])],
                "agm": [run("a0", [4.0, 4.0])],
            }
        },
        baseline="vanilla",
    )
    assert (
        costs.loc["vanilla", ("avdigits", "seconds")] == 4
        and costs.loc["agm", ("avdigits", "seconds")] == 8
    )
    assert costs.loc["agm", ("avdigits", "x vanilla")] == 2.0


def test_book_table_prints_a_float_column_with_the_decimals_its_numbers_need():
    frame = pd.DataFrame(
        {"seconds": [43, 165], "x vanilla": [1.0, 3.9]}, index=["vanilla", "gblending"]
    )
    html = report.table(frame, "cost")._repr_html_()
    assert ">1.0</td>" in html and ">3.9</td>" in html and ">165</td>" in html
