"""tools/gpu_bill.py: the full profile's runs counted from the settings, each run once across chapters,
epochs timed from each kind's H200 measurement (else the measured CREMA-D epoch scaled by training
clips and FLOPs), and the reproduction page holding the table it prints today."""

from __future__ import annotations

import importlib.util
import json
import re
import sys
from pathlib import Path

import pytest

from dglnb.config.profiles import settings

ROOT = Path(__file__).resolve().parents[1]
MEASURED = ROOT / "benchmarks" / "results" / "epoch_time_h200.txt"
STEPS = ROOT / "benchmarks" / "results" / "chapter_steps_h200.jsonl"


@pytest.fixture(scope="module")
def bill():
    spec = importlib.util.spec_from_file_location("gpu_bill", ROOT / "tools" / "gpu_bill.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["gpu_bill"] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def test_the_measured_epoch_is_read_per_method_as_seconds_per_clip(bill, tmp_path):
    measured = bill.read_measured(MEASURED)
    assert measured == {"vanilla": pytest.approx(2.24 / 6720), "dgl": pytest.approx(2.55 / 6720)}
    (tmp_path / "empty.txt").write_text("device cuda: NVIDIA H200\n")
    with pytest.raises(ValueError, match="no epoch_time.py output"):
        bill.read_measured(tmp_path / "empty.txt")


def test_table_4s_dgl_at_the_datasets_alpha_is_table_3s_run_and_is_counted_once(bill):
    full = settings("gradient_reorganizing", "full")
    runs = bill.chapter_runs()["03"]
    table3_dgl = [r for r in runs if r.method == "dgl" and r.alpha == 4.0]
    assert len(table3_dgl) == len(full.seeds) + len(
        full.sweep_seeds
    )  # Table 3's and Table 4's alpha-4 runs
    assert len(set(table3_dgl)) == len(set(full.seeds) | set(full.sweep_seeds))
    line = next(line for line in bill.bill(bill.read_measured(MEASURED)) if line.chapter == "03")
    assert len(line.runs) == len(set(runs))


def test_make_reproduce_trains_a_run_shared_by_chapters_once(bill):
    """Chapter 04 runs first; chapters 01 and 08 train only runs it (and 02, 03) already trained."""
    lines = {line.chapter: line for line in bill.bill(bill.read_measured(MEASURED))}
    assert lines["01"].new_runs == lines["08"].new_runs == 0 and lines["08"].hours > 0
    every = {run for runs in bill.chapter_runs().values() for run in runs}
    assert sum(line.new_runs for line in lines.values()) == len(every)


def test_an_epoch_is_the_measured_time_per_clip_times_training_clips_and_flops(bill):
    measured = bill.read_measured(MEASURED)
    run = bill.rows("cremad", ("vanilla",), (0,))[0]
    seconds, marks, _ = bill.epoch_seconds(run, measured)
    assert seconds == pytest.approx(2.24 / 6720 * 6698 * 0.9) and marks == "E"
    ks = bill.rows("kinetics_sounds", ("dgl",), (0,))[0]
    seconds, marks, how = bill.epoch_seconds(ks, measured)
    flops = bill.flops_per_sample("kinetics_sounds", "concat") / bill.flops_per_sample(
        "cremad", "concat"
    )
    assert seconds == pytest.approx(2.55 / 6720 * 14799 * 0.9 * flops) and marks == "ES"
    # a ResNet's FLOPs follow its input's area: 257x1004 + 3x224x224 positions against 257x299 + 224x224
    assert flops == pytest.approx((257 * 1004 + 3 * 224 * 224) / (257 * 299 + 224 * 224), rel=0.03)
    untimed = bill.rows("cremad", ("mmpareto",), (0,))[0]
    assert bill.epoch_seconds(untimed, measured)[1] == "EF"


def test_a_measured_kind_times_its_epoch_from_its_own_step_hook_and_validation(bill, tmp_path):
    record = {
        "dataset": "kinetics_sounds",
        "fusion": "concat",
        "method": "pmr",
        "options": {},
        "batch": 64,
        "step_s": 0.05,
        "train_s_per_sample": 0.05 / 64,
        "eval_s_per_sample": 2e-4,
        "hook_s_per_sample": 1e-4,
        "device": "NVIDIA H200",
    }
    (tmp_path / "steps.jsonl").write_text(json.dumps(record) + "\n")
    steps = bill.read_steps(tmp_path / "steps.jsonl")
    measured = bill.read_measured(MEASURED)
    run = bill.rows("kinetics_sounds", ("pmr",), (2,), alphas=(3.0,))[0]
    seconds, marks, how = bill.epoch_seconds(run, measured, steps)
    train, val = 14799 * 0.9, 14799 * 0.1
    assert seconds == pytest.approx(train * (0.05 / 64 + 1e-4) + val * 2e-4) and marks == "M"
    assert "step 50.0 ms at batch 64" in how
    other = bill.rows("vggsound", ("pmr",), (0,))[0]  # not measured: the scaled CREMA-D epoch
    assert bill.epoch_seconds(other, measured, steps)[1] == "ESF"
    (tmp_path / "empty.jsonl").write_text("\n")
    with pytest.raises(ValueError, match="no benchmarks/chapter_steps.py records"):
        bill.read_steps(tmp_path / "empty.jsonl")


def test_every_method_the_bill_counts_is_one_its_chapters_notebook_trains(bill):
    """Named in the notebook's code, or in its settings' ``methods`` where the notebook reads those."""
    notebooks = {path.name[:2]: path for path in (ROOT / "notebooks").glob("0*.ipynb")}
    for chapter, runs in bill.chapter_runs().items():
        code = "\n".join(
            "".join(cell["source"])
            for cell in json.loads(notebooks[chapter].read_text())["cells"]
            if cell["cell_type"] == "code"
        )
        from_settings = (
            set(settings("dense_fusion", "full").methods) if "cfg.methods" in code else set()
        )
        for method in {run.method for run in runs}:
            assert f'"{method}"' in code or method in from_settings, (
                f"chapter {chapter} trains no {method!r}"
            )


def test_the_reproduction_page_holds_the_bill_the_settings_give_today(bill):
    page = (ROOT / "book" / "reproduce.md").read_text()
    table = bill.table(bill.bill(bill.read_measured(MEASURED), bill.read_steps(STEPS)))
    assert table in page, (
        "book/reproduce.md is out of step: paste the output of tools/gpu_bill.py into section 9"
    )
    cremad = bill.flops_per_sample("cremad", "concat")
    stated = {"kinetics_sounds": "3.18 for Kinetics-Sounds", "nyuv2": "5.31 for NYUv2"}
    for dataset, text in stated.items():
        fusion = "esanet" if dataset == "nyuv2" else "concat"
        ratio = float(re.match(r"[\d.]+", text)[0])
        assert text in page and bill.flops_per_sample(dataset, fusion) / cremad == pytest.approx(
            ratio, abs=0.005
        )
    assert f"CREMA-D's {cremad / 1e9:.1f} GFLOP" in page
