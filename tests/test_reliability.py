"""Determinism, settings checked before anything runs, and runs stopped by their environment (a full
disk, a crashed data-loader worker) with the cause named and the files already written intact."""

from __future__ import annotations

import dataclasses
import errno
import os
from pathlib import Path

import pytest
import torch

from dglnb.config import TrainConfig, checks
from dglnb.errors import ConfigError, RunStopped
from dglnb.registry import UnknownNameError
from dglnb.train import check_settings, splits, train
from dglnb.train import run as experiment

SETTINGS = dict(dataset="synthetic", method="dgl", profile="smoke", epochs=3, progress=False)
RESULTS = ("metrics.json", "history.csv", "diagnostics.csv")


def config(out: Path, **overrides) -> TrainConfig:
    return TrainConfig(**{**SETTINGS, "out": out, **overrides})


def files(out: Path) -> dict[str, bytes]:
    return {name: (out / name).read_bytes() for name in RESULTS if (out / name).exists()}


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> Path:
    """The run folder of SETTINGS trained in one go."""
    out = tmp_path_factory.mktemp("reference")
    train(config(out))
    return out


# ----------------------------------------------------------------------------- determinism


def test_the_same_settings_give_byte_identical_results_in_any_folder(tmp_path, reference):
    train(config(tmp_path))
    assert files(tmp_path) == files(reference) and len(files(tmp_path)) == len(RESULTS)


def test_deterministic_algorithms_are_on_only_during_a_deterministic_run(tmp_path, monkeypatch):
    seen = []
    monkeypatch.setattr(
        experiment, "_train", lambda c: seen.append(torch.are_deterministic_algorithms_enabled())
    )
    train(config(tmp_path, deterministic=True))
    train(config(tmp_path))
    assert seen == [True, False] and not torch.are_deterministic_algorithms_enabled()


# ----------------------------------------------------------------------------- settings


def test_every_setting_has_a_check():
    names = {f.name for f in dataclasses.fields(TrainConfig)} - {"profile"}
    assert names == set(checks.CHECKS)


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        (dict(alpha=-1.0), "alpha must be a number >= 0; got -1.0"),
        (dict(alpha=float("nan")), "alpha must be a number >= 0; got nan"),
        (dict(epochs=0), "epochs must be an integer >= 1; got 0"),
        (dict(epochs="3"), "epochs must be an integer >= 1; got '3'"),
        (dict(lr=0), "lr must be a number > 0; got 0"),
        (dict(batch_size=0), "batch_size must be an integer >= 1; got 0"),
        (dict(seed=-1), "seed must be an integer >= 0 and < 4294967296; got -1"),
        (dict(milestones=(70, 20)), "milestones must be increasing epoch numbers >= 1"),
        (dict(device="gpu"), "device must be 'cpu', 'cuda' or 'cuda:N'; got 'gpu'"),
        (
            dict(data_root="/no/such/folder"),
            "data_root must be an existing path: prepare the dataset with its data_prep/",
        ),
        (dict(selection="best"), "selection must be one of val, test, or None; got 'best'"),
        (dict(protocol="paper"), "protocol must be one of honest, official; got 'paper'"),
        (dict(resume="yes"), "resume must be True or False; got 'yes'"),
    ],
)
def test_an_invalid_setting_is_refused_before_anything_runs_saying_what_is_valid(
    tmp_path, setting, message
):
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        train(config(tmp_path / "run", **setting))
    assert not (tmp_path / "run").exists()


@pytest.mark.skipif(
    torch.cuda.is_available(), reason="checks the message on a machine without CUDA"
)
def test_cuda_on_a_machine_without_it_is_refused():
    with pytest.raises(
        ConfigError, match="device must be 'cpu' on this machine: torch .* sees no CUDA GPU"
    ):
        check_settings(device="cuda")


def test_notebook_parameters_are_checked_by_name():
    check_settings(profile="quick", seed=0, data_root=None, device="cpu")
    with pytest.raises(UnknownNameError, match="valid profiles: smoke, quick, full"):
        check_settings(profile="fast")
    with pytest.raises(ConfigError, match=r"unknown settings \['seeds'\]"):
        check_settings(seeds=[0, 1])


# ----------------------------------------------------------------------------- a full disk


class FullDiskFile:
    """A file opened for writing on a disk that fills up halfway through the first write."""

    def __init__(self, f) -> None:
        self.f = f

    def __enter__(self) -> FullDiskFile:
        return self

    def __exit__(self, *exc) -> None:
        self.f.close()

    def write(self, data: bytes) -> int:
        self.f.write(data[: len(data) // 2])
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def fill_disk_at(monkeypatch, name: str, n: int) -> None:
    """From now on, the n-th opening of ``name`` for writing meets a full disk."""
    real_open, opened = Path.open, []

    def open_(path: Path, mode: str = "r", *args, **kwargs):
        f = real_open(path, mode, *args, **kwargs)
        if path.name == name and "w" in mode:
            opened.append(path)
            if len(opened) == n:
                return FullDiskFile(f)
        return f

    monkeypatch.setattr(Path, "open", open_)


def test_a_full_disk_stops_the_run_naming_the_cause_and_keeps_the_last_checkpoint(
    tmp_path, reference, monkeypatch
):
    fill_disk_at(monkeypatch, "last.pt.tmp", 2)  # the checkpoint of epoch 1
    with pytest.raises(
        RunStopped, match=f"could not write {tmp_path / 'last.pt'}: No space left on device"
    ):
        train(config(tmp_path))
    assert torch.load(tmp_path / "last.pt", weights_only=False)["epoch"] == 0
    assert (tmp_path / "history.csv").read_text().splitlines()[1:] == (
        reference / "history.csv"
    ).read_text().splitlines()[1:2]
    assert not list(tmp_path.glob("*.tmp"))

    monkeypatch.undo()  # space freed
    train(config(tmp_path, resume=True))
    assert files(tmp_path) == files(reference)


def test_a_full_disk_while_writing_metrics_keeps_the_previous_metrics(
    tmp_path, reference, monkeypatch
):
    train(config(tmp_path))
    fill_disk_at(monkeypatch, "metrics.json.tmp", 1)
    with pytest.raises(
        RunStopped, match="metrics.json: No space left on device. The previous metrics.json"
    ):
        train(config(tmp_path, resume=True))
    assert files(tmp_path) == files(reference)


# ----------------------------------------------------------------------------- a crashed worker


class CrashingInWorkers(torch.utils.data.Dataset):
    """A dataset whose items kill the data-loader worker process that loads them."""

    def __init__(self, dataset) -> None:
        self.dataset, self.info = dataset, dataset.info

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, i: int):
        if torch.utils.data.get_worker_info() is not None:
            os._exit(3)
        return self.dataset[i]


def test_a_crashed_data_loader_worker_stops_the_run_naming_it_and_keeps_the_files(
    tmp_path, monkeypatch
):
    train(config(tmp_path, epochs=1))
    before = files(tmp_path) | {"last.pt": (tmp_path / "last.pt").read_bytes()}
    load = splits.load_dataset
    monkeypatch.setattr(splits, "load_dataset", lambda *a, **kw: CrashingInWorkers(load(*a, **kw)))
    with pytest.raises(
        RunStopped,
        match=r"a data-loader worker failed: DataLoader worker \(pid.*exited unexpectedly"
        r".*rerun with --num-workers 0",
    ):
        train(config(tmp_path, resume=True, num_workers=1))
    assert files(tmp_path) | {"last.pt": (tmp_path / "last.pt").read_bytes()} == before
