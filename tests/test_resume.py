"""Interrupted runs: a run SIGKILLed at any moment and resumed ends with the files of an uninterrupted
run, byte for byte; a checkpoint that is unreadable or from other settings is refused, by name."""

from __future__ import annotations

import json
import random
import re
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from dglnb.config import TrainConfig
from dglnb.data.cremad import prepare
from dglnb.errors import CheckpointError
from dglnb.methods.dgl import DGL
from dglnb.train import load_trained, train
from dglnb.train.checkpoint import load_file
from fixtures.cremad import make_cremad
from fixtures.untrusted import SHELL_CALL, RunsAShellCommand

# 3 epochs of 3 steps: steps 1-3 are epoch 0, 4-6 epoch 1, 7-9 epoch 2.
SETTINGS = dict(dataset="synthetic", method="dgl", profile="smoke", epochs=3, progress=False)
RESULTS = ("metrics.json", "history.csv", "diagnostics.csv")

# Runs SETTINGS into argv[1] and SIGKILLs itself at a chosen moment: "step N" just before the N-th
# training step, or "<file> N" halfway through the N-th write of that file (a half-written .tmp is left).
KILLER = """
import json, os, signal, sys
from pathlib import Path
from dglnb.train import checkpoint
from dglnb.config import TrainConfig
from dglnb.train import load_trained, train
from dglnb.train.checkpoint import load_file
from dglnb.methods.base import Method

out, target, n, settings = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3]), json.loads(sys.argv[4])
seen = 0

def nth_time():
    global seen
    seen += 1
    return seen == n

if target == "step":
    step = Method.train_step
    def train_step(self, *args):
        if nth_time():
            os.kill(os.getpid(), signal.SIGKILL)
        return step(self, *args)
    Method.train_step = train_step
else:
    write = checkpoint.atomic_write
    def atomic_write(data, path):
        if path.name == target and nth_time():
            path.with_name(path.name + ".tmp").write_bytes(data[: len(data) // 2])
            os.kill(os.getpid(), signal.SIGKILL)
        write(data, path)
    checkpoint.atomic_write = atomic_write
train(TrainConfig(**settings, out=out))
"""


def config(out: Path, **overrides) -> TrainConfig:
    return TrainConfig(**{**SETTINGS, "out": out, **overrides})


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory) -> Path:
    """The run folder of SETTINGS trained in one go."""
    out = tmp_path_factory.mktemp("uninterrupted")
    train(config(out))
    return out


def kill_run(out: Path, target: str, n: int, settings: dict | None = None) -> None:
    """Start ``settings`` (default SETTINGS) in a fresh Python process and let it SIGKILL itself at
    ``target``'s n-th occurrence."""
    result = subprocess.run(
        [sys.executable, "-c", KILLER, str(out), target, str(n), json.dumps(settings or SETTINGS)],
        capture_output=True,
        text=True,
    )
    assert result.returncode == -signal.SIGKILL, result.stderr


@pytest.mark.parametrize(
    ("target", "n"),
    [("step", 5), ("last.pt", 2), ("history.csv", 3)],
    ids=["mid-epoch", "writing-the-checkpoint", "writing-the-log-after-the-last-epoch"],
)
def test_a_run_killed_and_resumed_ends_with_the_files_of_an_uninterrupted_run(
    tmp_path, uninterrupted, target, n
):
    kill_run(tmp_path, target, n)
    assert not (tmp_path / "metrics.json").exists()
    train(config(tmp_path, resume=True))
    for name in RESULTS:
        assert (tmp_path / name).read_bytes() == (uninterrupted / name).read_bytes(), name
    assert not list(tmp_path.glob("*.tmp"))


def test_resuming_without_a_checkpoint_starts_the_run_from_the_beginning(tmp_path, uninterrupted):
    kill_run(tmp_path, "step", 2)
    assert not (tmp_path / "last.pt").exists()
    train(config(tmp_path, resume=True))
    assert (tmp_path / "metrics.json").read_bytes() == (uninterrupted / "metrics.json").read_bytes()


def copy_checkpoint(run: Path, out: Path) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    return Path(shutil.copy(run / "last.pt", out / "last.pt"))


@pytest.mark.parametrize(
    ("change", "named"),
    [
        (dict(method="vanilla"), "method='dgl' there, 'vanilla' here"),
        (dict(dataset="synthetic3"), "dataset='synthetic' there, 'synthetic3' here"),
        (dict(lr=0.5, seed=1), "seed=0 there, 1 here; lr=0.04 there, 0.5 here"),
    ],
)
def test_resuming_a_checkpoint_of_other_settings_fails_naming_each_difference(
    tmp_path, uninterrupted, change, named
):
    checkpoint = copy_checkpoint(uninterrupted, tmp_path)
    with pytest.raises(
        CheckpointError, match=f"{checkpoint} was written by a run with other settings"
    ) as error:
        train(config(tmp_path, resume=True, **change))
    assert named in str(error.value) and "use another --out" in str(error.value)


def test_a_truncated_checkpoint_fails_with_a_clear_message(tmp_path, uninterrupted):
    checkpoint = copy_checkpoint(uninterrupted, tmp_path)
    checkpoint.write_bytes(checkpoint.read_bytes()[:1000])
    with pytest.raises(
        CheckpointError, match="is not a readable checkpoint .*delete it to start the run over"
    ):
        train(config(tmp_path, resume=True))


def test_a_checkpoint_that_would_run_code_is_refused_and_nothing_runs(tmp_path, uninterrupted):
    marker = tmp_path / "code-ran"
    run = tmp_path / "shared"
    shutil.copytree(
        uninterrupted, run
    )  # a run folder from elsewhere, its checkpoints tampered with
    for name in ("last.pt", "best.pt"):
        saved = torch.load(run / name, weights_only=False)
        saved["model"]["head"] = RunsAShellCommand(marker)
        torch.save(saved, run / name)
    refused = rf"was refused: it names {re.escape(SHELL_CALL)}, which no dglnb checkpoint holds"
    with pytest.raises(CheckpointError, match=rf"{run / 'last.pt'} {refused}"):
        train(config(run, resume=True))
    with pytest.raises(CheckpointError, match=rf"{run / 'best.pt'} {refused}"):
        load_trained(run)
    assert not marker.exists()
    torch.load(run / "best.pt", weights_only=False)  # a real threat: a plain load runs the command
    assert marker.exists()


def test_a_finished_run_loads_safely_with_its_random_states(uninterrupted):
    """NumPy's random state (an array) is the one class a checkpoint holds beyond tensors and containers."""
    saved = load_file(uninterrupted / "last.pt", "cpu")
    assert saved["rng"]["numpy"][0] == "MT19937" and saved["rng"]["numpy"][1].dtype == np.uint32
    model, _ = load_trained(uninterrupted)
    best = load_file(uninterrupted / "best.pt", "cpu")["model"]
    assert all(torch.equal(v, best[k]) for k, v in model.state_dict().items())


def test_a_run_can_be_resumed_with_more_epochs_or_other_workers(tmp_path, uninterrupted):
    copy_checkpoint(uninterrupted, tmp_path)
    metrics = train(config(tmp_path, resume=True, epochs=4, num_workers=1))
    history = (tmp_path / "history.csv").read_text()
    assert metrics["config"]["epochs"] == 4 and history.count("\n") == 1 + 4
    assert history.startswith((uninterrupted / "history.csv").read_text())


def test_resuming_restores_the_random_states_a_method_draws_from(tmp_path, monkeypatch):
    """A step that draws from torch's, NumPy's and Python's global generators (as dropout or a random
    re-initialisation would) continues after a resume exactly as without the interruption."""
    step = DGL.train_step

    def noisy_step(self, model, batch, optimizer):
        losses = step(self, model, batch, optimizer)
        with torch.no_grad():
            model.fusion.head.bias += 1e-3 * (torch.randn(()) + np.random.rand() + random.random())
        return losses

    monkeypatch.setattr(DGL, "train_step", noisy_step)
    train(config(tmp_path / "full"))
    train(config(tmp_path / "cut", epochs=2))
    train(config(tmp_path / "cut", resume=True))
    for name in RESULTS:
        assert (tmp_path / "cut" / name).read_bytes() == (tmp_path / "full" / name).read_bytes(), (
            name
        )


@pytest.fixture(scope="module")
def cremad_settings(tmp_path_factory) -> dict:
    """CREMA-D-style training (one random frame per clip and epoch) on a tiny prepared release:
    3 epochs of 3 steps of 4 clips."""
    raw = tmp_path_factory.mktemp("cremad_raw")
    make_cremad(raw, per_class=4)
    root = tmp_path_factory.mktemp("cremad")
    prepare(raw, root, frame_side=32, val_share=0.25)
    return dict(SETTINGS, dataset="cremad", data_root=str(root), batch_size=4, threads=1)


@pytest.mark.parametrize("workers", [0, 2])
def test_a_cremad_run_killed_mid_epoch_and_resumed_ends_as_an_uninterrupted_one(
    tmp_path, cremad_settings, workers
):
    settings = dict(cremad_settings, num_workers=workers)
    train(TrainConfig(**settings, out=tmp_path / "full"))
    kill_run(tmp_path / "cut", "step", 5, settings)  # the second step of epoch 1
    train(TrainConfig(**settings, out=tmp_path / "cut", resume=True))
    for name in ("metrics.json", "history.csv"):
        assert (tmp_path / "cut" / name).read_bytes() == (tmp_path / "full" / name).read_bytes(), (
            name
        )
    if workers:  # the draws do not depend on how many workers make them
        train(TrainConfig(**cremad_settings, out=tmp_path / "main"))
        assert (tmp_path / "main" / "history.csv").read_bytes() == (
            tmp_path / "full" / "history.csv"
        ).read_bytes()
