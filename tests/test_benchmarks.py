"""The timing scripts in benchmarks/ run and print what their README says (smallest sizes, on the CPU)."""

from __future__ import annotations

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
