"""One data-root convention from data_prep to the book: prepare into DATA_ROOT/<dataset>, then run a
chapter through papermill in the full profile (smoke sizes) against DATA_ROOT."""

import json
import subprocess
import sys

import nbformat
import pytest
from fixtures.cremad import make_cremad
from fixtures.mosi import make_mosi

from dglnb.paths import repo_root


@pytest.fixture(scope="module")
def data_root(tmp_path_factory):
    raw = tmp_path_factory.mktemp("cremad_raw")
    make_cremad(raw, per_class=3)
    root = tmp_path_factory.mktemp("data")
    subprocess.run([sys.executable, str(repo_root() / "data_prep" / "cremad.py"), "--raw", str(raw),
                    "--out", str(root / "cremad"), "--frame-side", "32"], check=True, capture_output=True)
    return root


def test_a_chapter_runs_in_the_full_profile_against_a_prepared_data_root(data_root, tmp_path, monkeypatch):
    monkeypatch.setenv("DGLNB_RUNS", str(tmp_path / "runs"))
    out = tmp_path / "02.ipynb"
    subprocess.run([sys.executable, "-m", "papermill", str(repo_root() / "notebooks" / "02_gradient_detaching.ipynb"),
                    str(out), "-p", "profile", "full", "-p", "data_root", str(data_root), "-p", "sizes", "smoke",
                    "-y", "seeds: [0, 1]", "-k", "python3", "--cwd", str(tmp_path), "--no-progress-bar"],
                   check=True, capture_output=True, text=True)
    runs = sorted((tmp_path / "runs" / "full" / "cache").glob("cremad-*/metrics.json"))
    assert len(runs) == 4  # vanilla and +MT, two seeds each, on the prepared CREMA-D
    assert {json.loads(p.read_text())["config"]["data_root"] for p in runs} == {str(data_root / "cremad")}
    outputs = [o for c in nbformat.read(out, as_version=4).cells if c.cell_type == "code" for o in c.get("outputs", [])]
    glued = [str(v) for o in outputs for k, v in o.get("data", {}).items() if k.startswith("application/papermill.record")]
    assert any("reproduced" in g for g in glued)  # the full profile states its claims (glued into the prose)


def test_the_three_modality_chapter_runs_in_the_full_profile_on_a_mosi_pickle(tmp_path, monkeypatch):
    monkeypatch.setenv("DGLNB_RUNS", str(tmp_path / "runs"))
    make_mosi(tmp_path / "data" / "mosi")
    out = tmp_path / "06.ipynb"
    subprocess.run([sys.executable, "-m", "papermill", str(repo_root() / "notebooks" / "06_three_modalities.ipynb"),
                    str(out), "-p", "profile", "full", "-p", "data_root", str(tmp_path / "data"), "-p", "sizes", "smoke",
                    "-y", "seeds: [0]", "-k", "python3", "--cwd", str(tmp_path), "--no-progress-bar"],
                   check=True, capture_output=True, text=True)
    runs = [json.loads(p.read_text()) for p in (tmp_path / "runs" / "full" / "cache").glob("mosi-*/metrics.json")]
    assert sorted(r["config"]["method"] for r in runs) == ["dgl", "unimodal", "vanilla"]
    assert {r["config"]["fusion"] for r in runs} == {"mlp_mixer"}
    assert all(set(r["test_score"]) >= {"audio", "visual", "text"} for r in runs)
