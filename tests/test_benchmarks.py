"""The timing scripts in benchmarks/ run and print what their README says (smallest sizes, on the CPU)."""

from __future__ import annotations

import importlib.util
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest
import torch

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


def run_script(name: str, *args: str, timeout: int = 120) -> list[str]:
    done = subprocess.run(
        [sys.executable, str(BENCHMARKS / name), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip().splitlines()


def load_script(name: str) -> ModuleType:
    """A benchmark script as a module (benchmarks/ put on the path for the scripts' own imports)."""
    sys.path.insert(0, str(BENCHMARKS))
    spec = importlib.util.spec_from_file_location(name, BENCHMARKS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def test_step_time_reports_each_method_with_its_tflops_and_ends_with_the_ratio():
    lines = run_script(
        "step_time.py", "--device", "cpu", "--shapes", "small", "--steps", "2", "--warmup", "1"
    )
    assert lines[0].startswith("device cpu: ")
    for method in ("vanilla", "dgl"):
        assert any(
            re.fullmatch(
                rf"fast +{method} *: +[\d.]+ samples/s, median step +[\d.]+ ms, "
                r"\d+\.\d{3} TFLOP/s",
                line,
            )
            for line in lines
        ), lines
    assert any(line.startswith("peak memory: ") and "ru_maxrss" in line for line in lines)
    flops = next(line for line in lines if line.startswith("FLOPs per step"))
    assert re.fullmatch(
        r"FLOPs per step \(batch 16\), GFLOP: fast vanilla [\d.]+, fast dgl [\d.]+ "
        r"\(FlopCounterMode: the matmul/conv FLOPs torch's counter knows, forward and "
        r"backward\)",
        flops,
    ), flops
    assert "MFU: n/a on a CPU (peaks are known for GPUs only: H200 NVL, H200, " in "\n".join(lines)
    assert re.fullmatch(r"ratio \d+\.\d{3}", lines[-1]), lines[-1]


def test_the_mfu_is_the_achieved_tflops_over_the_dense_peak_of_the_gpu_and_dtype(
    monkeypatch, capsys
):
    """On an H200 the fast recipe (bf16) is measured against 989.5 TFLOP/s, the official one (fp32)
    against 67; a GPU without a known peak reads n/a."""
    step_time = load_script("step_time")
    runs = [
        step_time.Run("fast", "vanilla", None, None, seconds=[0.02], flops=int(2e12)),
        step_time.Run("official", "dgl", None, None, seconds=[0.5], flops=int(10e12)),
    ]
    monkeypatch.setattr(step_time.torch.cuda, "get_device_name", lambda device: "NVIDIA H200")
    step_time.flops_report(runs, step_time.torch.device("cuda"), 64)
    assert capsys.readouterr().out.splitlines()[1] == (
        "MFU on NVIDIA H200: fast vanilla 10.1 % of the dense bf16 peak 989.5 TFLOP/s; "
        "official dgl 29.9 % of the dense fp32 peak 67 TFLOP/s"
    )
    monkeypatch.setattr(
        step_time.torch.cuda, "get_device_name", lambda device: "NVIDIA GeForce RTX 4090"
    )
    step_time.flops_report(runs[:1], step_time.torch.device("cuda"), 64)
    assert capsys.readouterr().out.splitlines()[1] == (
        "MFU on NVIDIA GeForce RTX 4090: fast vanilla n/a of the dense bf16 peak "
        "(unknown for this GPU)"
    )


def test_gpu_peaks_are_matched_by_name_most_specific_first():
    flops = load_script("flops")
    assert flops.peak_tflops("NVIDIA H100 80GB HBM3", "bf16") == 989.5
    assert flops.peak_tflops("NVIDIA H100 PCIe", "bf16") == 756.5
    assert flops.peak_tflops("NVIDIA H200 NVL", "fp32") == 60.0
    assert flops.peak_tflops("NVIDIA A100-SXM4-80GB", "fp32") == 19.5
    assert flops.peak_tflops("NVIDIA L40S", "bf16") == 362.05
    assert flops.peak_tflops("Intel(R) Xeon(R) Processor", "fp32") is None


def test_step_flops_are_counted_on_the_matrix_products():
    """A linear layer's forward and backward: 2*n*i*o for the forward, as much again for each of the
    backward's two products (the input's gradient and the weight's)."""
    flops = load_script("flops")
    layer, x = torch.nn.Linear(8, 4, bias=False), torch.randn(16, 8, requires_grad=True)
    assert flops.count_flops(lambda: layer(x).sum().backward()) == 3 * 2 * 16 * 8 * 4


def test_quick_run_reports_steps_gflops_and_phase_shares_that_add_up():
    lines = run_script("quick_run.py", "--profile", "smoke", "--method", "dgl")
    assert re.fullmatch(
        r"device cpu: .+, 1 torch threads; torch .+; load average [\d. ]+ \(at the end\)", lines[0]
    ), lines[0]
    # the smoke profile: one epoch of three steps of eight samples
    assert lines[1] == (
        "run: avdigits, smoke profile, fusion concat, method dgl, seed 0; 1 epochs, batch 8, "
        "3 training steps (24 samples)"
    )
    assert re.fullmatch(r"steps/s: [\d.]+ \(training steps alone; [\d.]+ samples/s\)", lines[2])
    assert re.fullmatch(
        r"FLOPs per training step \(batch 8\): [\d.]+ GFLOP, counted once with "
        r"torch.utils.flop_counter.FlopCounterMode \(the matmul/conv FLOPs torch's "
        r"counter knows, forward and backward\)",
        lines[3],
    )
    assert re.fullmatch(r"achieved GFLOP/s of the training steps: [\d.]+", lines[4])
    total = float(re.fullmatch(r"wall time: ([\d.]+) s, by phase \(share, seconds\):", lines[5])[1])
    phases = [re.fullmatch(r"  (.+?) +([\d.]+) % +([\d.]+) s  .+", line) for line in lines[6:]]
    assert all(phases), lines[6:]
    assert [p[1] for p in phases] == [
        "start-up",
        "data and model",
        "batches",
        "training steps",
        "gradient diagnostics",
        "per-epoch evaluation",
        "checkpoints and logs",
        "final scoring",
        "probe",
        "rest",
    ]
    assert abs(sum(float(p[2]) for p in phases) - 100) < 0.6
    assert abs(sum(float(p[3]) for p in phases) - total) < 0.1
    reached = {p[1]: float(p[3]) for p in phases}
    assert all(
        reached[name] > 0
        for name in (
            "data and model",
            "training steps",
            "gradient diagnostics",
            "per-epoch evaluation",
            "final scoring",
            "probe",
        )
    )


def test_quick_run_times_a_segmenters_decoder_probe_at_the_batch_asked():
    lines = run_script(
        "quick_run.py", "--profile", "smoke", "--dataset", "rgbd_scenes", "--batch-size", "2"
    )
    assert lines[1].startswith("run: rgbd_scenes, smoke profile, fusion esanet, method vanilla")
    assert "batch 2" in lines[1]
    probe = next(line for line in lines if line.startswith("  probe "))
    assert float(re.fullmatch(r"  probe +[\d.]+ % +([\d.]+) s  .+", probe)[1]) > 0


def test_step_time_refuses_a_bad_step_count():
    done = subprocess.run(
        [sys.executable, str(BENCHMARKS / "step_time.py"), "--device", "cpu", "--steps", "0"],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 2 and "must be a positive integer, got 0" in done.stderr


def test_epoch_time_says_its_data_is_synthetic_and_its_epoch_extrapolated():
    lines = run_script("epoch_time.py", "--device", "cpu", "--clips", "1", "--batch", "1")
    assert lines[0].startswith("device cpu: ")
    assert any(line.startswith("data: synthetic") for line in lines)
    assert re.fullmatch(
        r"epoch \(6,698 clips\): [\d.]+ (s|min|h) \(extrapolated from 1 clips\)", lines[-2]
    ), lines
    assert re.fullmatch(
        r"100 epochs: [\d.]+ (s|min|h) \(extrapolated from 1 clips; evaluation not included\)",
        lines[-1],
    ), lines


def test_the_device_check_script_runs_through_at_tiny_sizes_on_the_cpu(tmp_path):
    """benchmarks/gpu_check.sh, run between GPU runs with every command it calls at tiny sizes (this
    test's name matches neither "cuda" nor "on_the_gpu", the script's selection of tests)."""
    out = tmp_path / "check"
    tiny = {"SIZES": "tiny", "DEVICE": "cpu", "OUT": str(out), "PY": sys.executable, "EPOCHS": "2"}
    done = subprocess.run(
        ["bash", str(BENCHMARKS / "gpu_check.sh")],
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, **tiny},
    )
    assert done.returncode == 0, done.stdout + done.stderr
    phases = (out / "phases.txt").read_text().splitlines()
    assert len(phases) == 9, phases
    assert all(re.fullmatch(r".+: ok in \d+ s \(.+\.txt\)", line) for line in phases), phases
    assert "passed" in (out / "cuda_tests.txt").read_text()
    assert (out / "step_time.txt").read_text().splitlines()[-1].startswith("ratio ")
    summary = (out / "summary.txt").read_text().splitlines()
    for method, (measured, extrapolated) in zip(("vanilla", "dgl"), (summary[:2], summary[2:])):
        assert re.match(
            rf"{method}: 2 epochs on cpu \(smoke profile, batch 8, train \d+, val \d+, "
            r"test \d+\): [\d.]+, [\d.]+ s per epoch, training steps only; "
            r"checkpoints written",
            measured,
        ), measured
        assert re.fullmatch(
            rf"{method}: 100 epochs of CREMA-D \(6,698 training clips\): [\d.]+ (s|min|h), "
            r"training steps only \(extrapolated from the median of epochs 2-2 over "
            r"\d+ clips an epoch\)",
            extrapolated,
        )
        assert (out / f"train_{method}" / "history.csv").is_file()
    assert not list(out.rglob("*.pt"))  # checked, then removed: too large to keep with the results


def test_the_device_check_summary_names_what_a_run_lacks(tmp_path):
    (tmp_path / "data").mkdir()
    splits = {"train": {"ids": ["a"]}, "val": {"ids": []}, "test": {"ids": []}}
    (tmp_path / "data" / "manifest.json").write_text(json.dumps({"splits": splits}))
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "history.csv").write_text("epoch\n0\n")
    done = subprocess.run(
        [
            sys.executable,
            str(BENCHMARKS / "gpu_check_summary.py"),
            "--data",
            str(tmp_path / "data"),
            str(tmp_path / "run"),
        ],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 1
    lacks = "lacks metrics.json, timing.csv, last.pt, best.pt"
    assert done.stderr.strip() == f"{tmp_path / 'run'} {lacks}"


def test_the_gpu_speed_script_runs_through_at_tiny_sizes_on_the_cpu(tmp_path):
    """benchmarks/gpu_speed.py's commands (the long run, sweeps packed 1 and 2 at a time) at tiny sizes."""
    out = tmp_path / "speed"
    lines = run_script(
        "gpu_speed.py",
        "--device",
        "cpu",
        "--sizes",
        "tiny",
        "--epochs",
        "2",
        "--pack-epochs",
        "2",
        "--packs",
        "1",
        "2",
        "--out",
        str(out),
        timeout=600,
    )
    assert lines == (out / "summary.txt").read_text().splitlines()
    assert lines[0].startswith("device cpu: cpu; torch ")
    assert lines[1].startswith(
        "data: synthetic CREMA-D at the real shapes, train 16, val 6, test 6 (written in "
    )
    assert re.fullmatch(
        r"2 epochs of DGL, whole loop: [\d.]+ s wall \(target <= 120 s on an H200: not judged at "
        r"other epoch counts here\); training steps [\d.]+ s \(median epoch [\d.]+ s over 16 clips\), the rest "
        r"[\d.]+ s \(.+\)",
        lines[2],
    ), lines[2]
    assert re.fullmatch(
        r"pack 1: 1 run\(s\) x 2 epochs, 1 CPU thread\(s\) each, in [\d.]+ s wall: \d+ training "
        r"clips/s over the wall time, \d+ over the runs' steady epochs",
        lines[3],
    ), lines[3]
    assert re.fullmatch(
        r"pack 2: 2 run\(s\) x 2 epochs, .+ steady epochs \([\d.]+x and [\d.]+x pack 1\)", lines[4]
    ), lines[4]
    histories = sorted(out.rglob("history.csv"))
    assert len(histories) == 1 + 1 + 2 and not list(out.rglob("*.pt"))  # checked, then removed


def test_chapter_steps_measures_each_kind_of_run_into_records_the_gpu_bill_reads(tmp_path):
    """benchmarks/chapter_steps.py on the CPU for chapter 06's kinds (MOSI's small models), one step."""
    out = tmp_path / "steps.jsonl"
    lines = run_script(
        "chapter_steps.py",
        *("--device", "cpu", "--chapters", "06", "--batch", "4", "--steps", "1"),
        *("--warmup", "0", "--out", str(out)),
        timeout=300,
    )
    assert lines[0] == "3 kinds of run; seconds per sample (step, eval, epoch hook)"
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert [(r["dataset"], r["fusion"], r["method"]) for r in records] == [
        ("mosi", "mlp_mixer", m) for m in ("vanilla", "dgl", "unimodal")
    ]
    for r in records:
        assert r["batch"] == 4 and r["train_s_per_sample"] == pytest.approx(r["step_s"] / 4)
        assert r["step_s"] > 0 and r["eval_s"] > 0 and r["hook_share"] == 1
    sys.path.insert(0, str(BENCHMARKS.parent / "tools"))
    from gpu_bill import read_steps

    assert set(read_steps(out)) == {
        ("mosi", "mlp_mixer", m, ()) for m in ("vanilla", "dgl", "unimodal")
    }
