"""Every chapter rehearsed in the full profile, as `make reproduce` runs it, in minutes: the fixture
releases of every dataset the full profile reads, prepared by data_prep/ into one DATA_ROOT, then each
notebook of notebooks/ (found by glob) run by papermill with ``-p profile full -p sizes smoke -p
data_root DATA_ROOT`` and few seeds. Each chapter must finish, state a verdict per claim on this run's
numbers, and train on the datasets its experiment names, read from DATA_ROOT.

Marked ``rehearsal``: `make rehearsal` runs them, JOBS chapters at a time (`make unit` leaves them
out); the prepared DATA_ROOT is shared by the xdist workers. Each chapter has a run cache of its own,
so that its runs tell which datasets it read.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from filelock import FileLock

from dglnb.analysis.summary import CLAIM, NOT_RUN
from dglnb.config.profiles import SETTINGS, settings
from dglnb.paths import repo_root
from fixtures.clips import make_kinetics_sounds, make_vggsound
from fixtures.cremad import make_cremad
from fixtures.mosi import make_mosi
from fixtures.nyuv2 import make_nyuv2

pytestmark = pytest.mark.rehearsal
# Chapter 07 first: its NYUv2 runs at 480x640 take most of the rehearsal, so xdist starts them at once.
CHAPTERS = sorted(
    (repo_root() / "notebooks").glob("[0-9][0-9]_*.ipynb"),
    key=lambda path: (path.stem != "07_segmentation", path.stem),
)
PREP = repo_root() / "data_prep"
# The quick profile's seeds, the fewest the chapters' claims need: two for the rows whose seed spread
# the claims use, one for chapter 04's comparison methods (a parameter the other chapters ignore).
SEEDS = "{seeds: [0, 1], method_seeds: [0]}"


def prep_commands(raw: Path, root: Path) -> dict[str, list[str] | None]:
    """Per dataset the full profile reads: the data_prep command that prepares its fixture release
    (written under ``raw``) into ``root / dataset``; None where the release is the data (MOSI's pickle)."""
    make_cremad(raw / "cremad", per_class=3)
    ks_clips, ks_train, ks_test = make_kinetics_sounds(raw / "kinetics_sounds")
    vgg_clips, vgg_csv = make_vggsound(raw / "vggsound")
    scenes = len(settings("segmentation", "full").figure_scenes)  # chapter 07 draws them from test
    mat, splits, mapping = make_nyuv2(
        raw / "nyuv2", count=6 + scenes, test=list(range(1, 2 * scenes, 2))
    )
    make_mosi(root / "mosi")
    small = ["--frame-side", "32"]
    return {
        "cremad": ["cremad.py", "--raw", raw / "cremad", *small],
        "kinetics_sounds": [
            "kinetics_sounds.py",
            "--clips",
            ks_clips,
            "--train-list",
            ks_train,
            "--test-list",
            ks_test,
            "--expected-classes",
            "3",
            *small,
        ],
        "vggsound": [
            "vggsound.py",
            "--clips",
            vgg_clips,
            "--csv",
            vgg_csv,
            "--expected-classes",
            "3",
            *small,
        ],
        "mosi": None,
        "nyuv2": ["nyuv2.py", "--mat", mat, "--splits", splits, "--mapping", mapping],
    }


# generated on the machine, never read from DATA_ROOT (chapter 09's full profile: AV-Digits)
EMBEDDED = {
    "synthetic",
    "synthetic3",
    "synthetic_seq3",
    "avdigits",
    "avdigits_small",
    "rgbd_scenes",
}


def datasets_named(experiment: str) -> set[str]:
    """The datasets of DATA_ROOT that ``experiment`` trains on in the full profile."""
    full = settings(experiment, "full")
    return set(getattr(full, "datasets", None) or [full.dataset]) - EMBEDDED


FULL_PROFILE_DATASETS = set().union(*(datasets_named(experiment) for experiment in SETTINGS))


def prepare(root: Path) -> None:
    """Every dataset of FULL_PROFILE_DATASETS prepared into ``root``, the data_prep scripts side by side."""
    commands = prep_commands(root.parent / "raw", root)
    assert set(commands) == FULL_PROFILE_DATASETS, (
        "a dataset of the full profile has no fixture to prepare"
    )
    running = [
        subprocess.Popen(
            [sys.executable, PREP / script, *map(str, args), "--out", root / name],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for name, (script, *args) in ((n, c) for n, c in commands.items() if c)
    ]
    for process in running:
        output = process.communicate(timeout=300)[0]
        assert process.returncode == 0, output[-3000:]


@pytest.fixture(scope="session")
def data_root(tmp_path_factory) -> Path:
    """One prepared DATA_ROOT for every xdist worker of the session (their temporary folders share a parent)."""
    base = tmp_path_factory.getbasetemp()
    shared = base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base
    root = shared / "rehearsal_data"
    with FileLock(str(shared / "rehearsal_data.lock")):
        if not (root / "prepared").is_file():
            prepare(root)
            (root / "prepared").write_text("")
    return root


def glued(notebook: nbformat.NotebookNode) -> dict[str, str]:
    """Every value the executed notebook glued (myst-nb, through scrapbook), as plain text, by name."""
    return {
        output["metadata"]["scrapbook"]["name"]: output["data"][
            "application/papermill.record/text/plain"
        ]
        for cell in notebook.cells
        for output in cell.get("outputs", [])
        if "scrapbook" in output.get("metadata", {})
    }


def claim_rows(table: str) -> list[str]:
    """The rows of a claims table's text (dglnb.analysis.summary.claims_table), one per claim."""
    lines = table.splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith(CLAIM))
    return lines[header + 1 :]


@pytest.mark.parametrize("chapter", CHAPTERS, ids=[path.stem for path in CHAPTERS])
def test_the_chapter_runs_in_the_full_profile_on_the_prepared_data_root(
    chapter, data_root, tmp_path
):
    source = chapter.read_text()
    out = tmp_path / chapter.name
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "papermill",
            str(chapter),
            str(out),
            "-p",
            "profile",
            "full",
            "-p",
            "sizes",
            "smoke",
            "-p",
            "data_root",
            str(data_root),
            "-y",
            SEEDS,
            "-k",
            "python3",
            "--cwd",
            str(tmp_path),
            "--no-progress-bar",
        ],
        capture_output=True,
        text=True,
        timeout=900,
        # this environment (an emulated CPU's settings too), one thread unless set, a run cache of its own
        env={"OMP_NUM_THREADS": "1", **os.environ, "DGLNB_RUNS": str(tmp_path / "runs")},
    )
    assert done.returncode == 0, done.stderr[-4000:]

    experiments = set(re.findall(r'profiles\.settings\(\\"(\w+)\\"', source))
    runs = [
        json.loads(p.read_text())["config"]
        for p in (tmp_path / "runs").glob("full/cache/*/metrics.json")
    ]
    assert [
        (r["dataset"], r["data_root"])
        for r in runs
        if r["data_root"] != str(data_root / r["dataset"])
    ] == []
    named = set().union(*(datasets_named(e) for e in experiments))
    assert named <= {
        r["dataset"] for r in runs
    }  # every dataset the chapter names, trained on from DATA_ROOT
    if (
        "claims_summary" in source
    ):  # the chapter states its verdicts: one per claim, on this run's numbers
        rows = claim_rows(glued(nbformat.read(out, as_version=4))["claims_summary"])
        assert rows and all(
            re.search(r"reproduced: \S+\xa0SE", row) and row.count(NOT_RUN) == 1 for row in rows
        ), rows
    if not experiments:  # a chapter without runs reads DATA_ROOT through dglnb data check
        printed = "".join(
            o.get("text", "")
            for c in nbformat.read(out, as_version=4).cells
            for o in c.get("outputs", [])
        )
        assert all(str(data_root / name) in printed for name in FULL_PROFILE_DATASETS), printed[
            -3000:
        ]
