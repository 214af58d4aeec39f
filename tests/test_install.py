"""``pip install .`` (no checkout, no editable install) gives a working ``dglnb train`` and
``dglnb sweep``: the built wheel goes into a fresh virtual environment (torch first, the CPU wheel,
then the wheel with its dependencies from the package registries) and trains from another folder.

Slow (a minute or two, mostly installing): marked ``install``; ``make test`` runs it once, apart
from the unit tests (``pytest -m install``)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

import dglnb
from dglnb.paths import repo_root

TORCH = "torch==2.13.0"
SWEEP = """out: sweep
launcher: local
profile: smoke
methods: [vanilla, dgl]
datasets: [synthetic]
seeds: [0]
options: {threads: 1}
"""


def run(*args: str | Path, cwd: Path, env: dict[str, str]) -> str:
    result = subprocess.run(
        [str(a) for a in args], cwd=cwd, env=env, capture_output=True, text=True
    )
    assert result.returncode == 0, f"{args}: {result.stdout[-2000:]}\n{result.stderr[-4000:]}"
    return result.stdout


@pytest.mark.install
def test_the_wheel_in_a_fresh_venv_trains_and_sweeps_outside_a_checkout(tmp_path):
    source = tmp_path / "source"  # only what the wheel is built from: no notebooks, no _config.yml
    source.mkdir()
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy(repo_root() / name, source)
    shutil.copytree(
        repo_root() / "src",
        source / "src",
        ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"),
    )
    inherited = ("PYTHON", "VIRTUAL_ENV", "DGLNB_")  # nothing points back at this checkout
    env = {k: v for k, v in os.environ.items() if not k.startswith(inherited)}
    env |= {"OMP_NUM_THREADS": "1", "DGLNB_CACHE": str(tmp_path / "cache")}
    run(
        sys.executable,
        "-m",
        "pip",
        "wheel",
        "-q",
        "--no-deps",
        "-w",
        tmp_path / "dist",
        source,
        cwd=tmp_path,
        env=env,
    )
    (wheel,) = (tmp_path / "dist").glob("dglnb-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        metadata = archive.read(f"dglnb-{dglnb.__version__}.dist-info/METADATA").decode()
        assert f"dglnb-{dglnb.__version__}.dist-info/licenses/LICENSE" in archive.namelist()
    assert "License-Expression: MIT" in metadata.splitlines()

    run(sys.executable, "-m", "venv", tmp_path / "venv", cwd=tmp_path, env=env)  # no site-packages
    python, command = tmp_path / "venv" / "bin" / "python", tmp_path / "venv" / "bin" / "dglnb"
    run(python, "-m", "pip", "install", "-q", TORCH, cwd=tmp_path, env=env)
    run(python, "-m", "pip", "install", "-q", wheel, cwd=tmp_path, env=env)

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    where = run(
        python,
        "-c",
        "import dglnb, dglnb.paths as p; print(dglnb.__file__, p.home())",
        cwd=elsewhere,
        env=env,
    ).split()
    assert "site-packages" in where[0] and Path(where[1]) == elsewhere
    run(
        command,
        "train",
        "--dataset",
        "synthetic",
        "--method",
        "dgl",
        "--profile",
        "smoke",
        "--out",
        "run",
        "--no-progress",
        cwd=elsewhere,
        env=env,
    )
    metrics = json.loads((elsewhere / "run" / "metrics.json").read_text())
    assert metrics["config"]["method"] == "dgl" and 0 <= metrics["test_score"]["multimodal"] <= 1

    (elsewhere / "sweep.yaml").write_text(SWEEP)
    run(command, "sweep", "sweep.yaml", cwd=elsewhere, env=env)
    run(command, "sweep", "sweep.yaml", "--collect", cwd=elsewhere, env=env)
    results = (elsewhere / "sweep" / "results.csv").read_text().splitlines()
    assert len(results) == 3 and results[0].startswith("method,dataset,seed")

    cached = run(
        python,
        "-c",
        "from dglnb import TrainConfig, train_seeds\n"
        "r = train_seeds(TrainConfig(dataset='synthetic', method='vanilla', "
        "profile='smoke', progress=False), [0])\nprint(r['dirs'][0])",
        cwd=elsewhere,
        env={**env, "DGLNB_HOME": str(tmp_path / "home")},
    )
    assert Path(cached.strip()).parent == tmp_path / "home" / "build" / "runs" / "smoke" / "cache"
