"""``make book`` and ``make test`` end by printing their wall-clock time (and make test each step's),
checked with every command they call replaced by ``echo`` or ``true``: only the timing is exercised."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
MOMENT = r"\d{{4}}-\d\d-\d\d \d\d:\d\d:\d\d"
TOTAL = rf"make {{}}: \d+ s \(wall\), from {MOMENT} to {MOMENT}"
pytestmark = pytest.mark.skipif(shutil.which("make") is None, reason="needs GNU make")


def outside_make() -> dict[str, str]:
    """This environment without what an enclosing make (make test runs this test) passes to its children."""
    return {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL")}


def make(target: str, tmp_path: Path, *overrides: str) -> list[str]:
    done = subprocess.run(
        [
            "make",
            "-s",
            "-C",
            str(ROOT),
            target,
            "MAKE=echo",
            f"TIMING={tmp_path / 'timing'}",
            f"EXECUTED={tmp_path / 'notebooks'}",
            *overrides,
        ],
        capture_output=True,
        text=True,
        timeout=60,
        env=outside_make(),
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout.splitlines()


def test_make_test_prints_each_step_and_its_whole_time_at_the_end(tmp_path):
    lines = make("test", tmp_path)
    steps = [
        "installs",
        "unit",
        "unit-avx2",
        "install-check",
        "rehearsal",
        "nbval-portable",
        "html",
        "browser-check",
    ]
    assert [re.fullmatch(r"  (.+): \d+ s", line)[1] for line in lines[-9:-1]] == steps
    assert re.fullmatch(TOTAL.format("test"), lines[-1]), lines[-1]


def test_make_book_prints_its_notebooks_html_and_whole_time_at_the_end(tmp_path):
    lines = make("book", tmp_path, "PAPERMILL=true", "PY=true")
    assert [re.fullmatch(r"  (.+): \d+ s", line)[1] for line in lines[-3:-1]] == [
        "notebooks",
        "html",
    ]
    assert re.fullmatch(TOTAL.format("book"), lines[-1]), lines[-1]
