"""The timing scripts in benchmarks/ run and print what their README says (smallest sizes, on the CPU)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


def run_script(name: str, *args: str) -> list[str]:
    done = subprocess.run([sys.executable, str(BENCHMARKS / name), *args], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip().splitlines()


def test_step_time_reports_each_method_and_ends_with_the_ratio():
    lines = run_script("step_time.py", "--device", "cpu", "--shapes", "small", "--steps", "2", "--warmup", "1")
    assert lines[0].startswith("device cpu: ")
    for method in ("vanilla", "dgl"):
        assert any(re.fullmatch(rf"fast +{method} *: +[\d.]+ samples/s, median step +[\d.]+ ms", line)
                   for line in lines), lines
    assert any(line.startswith("peak memory: ") and "ru_maxrss" in line for line in lines)
    assert re.fullmatch(r"ratio \d+\.\d{3}", lines[-1]), lines[-1]


def test_step_time_refuses_a_bad_step_count():
    done = subprocess.run([sys.executable, str(BENCHMARKS / "step_time.py"), "--device", "cpu", "--steps", "0"],
                          capture_output=True, text=True)
    assert done.returncode == 2 and "must be a positive integer, got 0" in done.stderr


def test_epoch_time_says_its_data_is_synthetic_and_its_epoch_extrapolated():
    lines = run_script("epoch_time.py", "--device", "cpu", "--clips", "1", "--batch", "1")
    assert lines[0].startswith("device cpu: ")
    assert any(line.startswith("data: synthetic") for line in lines)
    assert re.fullmatch(r"epoch \(6,698 clips\): [\d.]+ (s|min|h) \(extrapolated from 1 clips\)", lines[-2]), lines
    assert re.fullmatch(r"100 epochs: [\d.]+ (s|min|h) \(extrapolated from 1 clips; evaluation not included\)",
                        lines[-1]), lines


def test_the_device_check_script_runs_through_at_tiny_sizes_on_the_cpu(tmp_path):
    """benchmarks/gpu_check.sh, run between GPU runs with every command it calls at tiny sizes (this
    test's name matches neither "cuda" nor "on_the_gpu", the script's selection of tests)."""
    out = tmp_path / "check"
    tiny = {"SIZES": "tiny", "DEVICE": "cpu", "OUT": str(out), "PY": sys.executable, "EPOCHS": "2"}
    done = subprocess.run(["bash", str(BENCHMARKS / "gpu_check.sh")], capture_output=True, text=True,
                          timeout=600, env={**os.environ, **tiny})
    assert done.returncode == 0, done.stdout + done.stderr
    phases = (out / "phases.txt").read_text().splitlines()
    assert len(phases) == 9, phases
    assert all(re.fullmatch(r".+: ok in \d+ s \(.+\.txt\)", line) for line in phases), phases
    assert "passed" in (out / "cuda_tests.txt").read_text()
    assert (out / "step_time.txt").read_text().splitlines()[-1].startswith("ratio ")
    summary = (out / "summary.txt").read_text().splitlines()
    for method, (measured, extrapolated) in zip(("vanilla", "dgl"), (summary[:2], summary[2:])):
        assert re.match(rf"{method}: 2 epochs on cpu \(smoke profile, batch 8, train \d+, val \d+, "
                        r"test \d+\): [\d.]+, [\d.]+ s per epoch, evaluation included; "
                        r"checkpoints written", measured), measured
        assert re.fullmatch(rf"{method}: 100 epochs of CREMA-D \(7,442 clips\): [\d.]+ (s|min|h), "
                            r"evaluation included \(extrapolated from the median of epochs 2-2 over "
                            r"\d+ clips an epoch\)", extrapolated)
        assert (out / f"train_{method}" / "history.csv").is_file()
    assert not list(out.rglob("*.pt"))  # checked, then removed: too large to keep with the results


def test_the_device_check_summary_names_what_a_run_lacks(tmp_path):
    (tmp_path / "data").mkdir()
    splits = {"train": {"ids": ["a"]}, "val": {"ids": []}, "test": {"ids": []}}
    (tmp_path / "data" / "manifest.json").write_text(json.dumps({"splits": splits}))
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "history.csv").write_text("epoch\n0\n")
    done = subprocess.run([sys.executable, str(BENCHMARKS / "gpu_check_summary.py"), "--data",
                           str(tmp_path / "data"), str(tmp_path / "run")], capture_output=True, text=True)
    assert done.returncode == 1
    lacks = "lacks metrics.json, timing.csv, last.pt, best.pt"
    assert done.stderr.strip() == f"{tmp_path / 'run'} {lacks}"
