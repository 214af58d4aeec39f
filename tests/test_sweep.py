"""``dglnb sweep``: a grid of runs through submitit, resumed without retraining, collected as one table;
bad names fail before any training."""

from __future__ import annotations

import dataclasses
import functools
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import yaml

from dglnb.cli import main
from dglnb.errors import ConfigError, UserError
from dglnb.methods import METHODS
from dglnb.train import sweep as sweeps
from dglnb.train import train

SMOKE = dict(
    profile="smoke",
    methods=["vanilla", "dgl"],
    datasets=["synthetic"],
    seeds=[0, 1],
    options={"epochs": 2},
)


def sweep_file(tmp_path: Path, **changes) -> Path:
    spec = {"out": str(tmp_path / "sweep"), "launcher": "debug", **SMOKE, **changes}
    path = tmp_path / "sweep.yaml"
    path.write_text(yaml.safe_dump(spec))
    return path


def test_runs_go_to_folders_named_by_their_settings(tmp_path):
    path = sweep_file(
        tmp_path,
        options={"epochs": 2, "fusion": ["concat", "sum"]},
        methods=["vanilla", "mmpareto"],
        method_options={"mmpareto": {"rescale": ["tensor", "encoder"]}},
    )
    runs = sweeps.load_sweep(path).runs
    folders = {str(run.out.relative_to(tmp_path / "sweep")) for run in runs}
    assert len(runs) == 2 * 2 * 3  # seeds x fusions x (vanilla + two mmpareto variants)
    assert "synthetic/vanilla/epochs=2,fusion=sum/seed1" in folders
    assert "synthetic/mmpareto/epochs=2,fusion=concat,rescale=encoder/seed0" in folders


def test_a_sweep_interrupted_after_its_first_run_resumes_without_retraining_and_collects(tmp_path):
    """The local launcher (a process per run); the interruption is simulated by the state a killed
    sweep leaves: its first run finished, its second stopped after one of its two epochs."""
    path = sweep_file(tmp_path, launcher="local")
    first, second, *rest = sweeps.load_sweep(path).runs
    train(first.config("smoke"))
    train(dataclasses.replace(second.config("smoke"), epochs=1))
    (
        second.out / "metrics.json"
    ).unlink()  # killed before its end: only the epoch-1 checkpoint and logs
    finished = {p: p.stat().st_mtime_ns for p in first.out.iterdir()}

    assert main(["sweep", str(path)]) == 0
    assert {p: p.stat().st_mtime_ns for p in first.out.iterdir()} == finished  # not retrained
    assert all(run.finished for run in [second, *rest])
    assert pd.read_csv(second.out / "history.csv")["epoch"].tolist() == [0, 1]  # resumed at epoch 1

    assert main(["sweep", str(path), "--collect"]) == 0
    table = pd.read_csv(tmp_path / "sweep" / "results.csv")
    assert sorted(zip(table["method"], table["seed"])) == [
        ("dgl", 0),
        ("dgl", 1),
        ("vanilla", 0),
        ("vanilla", 1),
    ]
    assert (table["epochs"] == 2).all() and (table["dataset"] == "synthetic").all()
    assert table["test_score.multimodal"].between(0, 1).all() and "linear_probe.easy" in table


def test_a_finished_sweep_trains_nothing(tmp_path, monkeypatch):
    path = sweep_file(tmp_path, seeds=[0], methods=["vanilla"])
    assert main(["sweep", str(path)]) == 0
    monkeypatch.setattr(sweeps, "train_run", lambda config: pytest.fail(f"retrained {config.out}"))
    result = sweeps.run_sweep(sweeps.load_sweep(path), log=lambda _: None)
    assert (len(result["skipped"]), result["trained"], result["failed"]) == (1, [], {})


def test_a_failed_run_is_retried_once_reported_and_its_files_left_alone(tmp_path, capsys):
    path = sweep_file(tmp_path, seeds=[0], methods=["vanilla", "dgl"])
    broken = sweeps.load_sweep(path).runs[0].out
    broken.mkdir(parents=True)
    (broken / "last.pt").write_bytes(b"not a checkpoint")
    attempts = []
    result = sweeps.run_sweep(
        sweeps.load_sweep(path),
        job=lambda c: attempts.append(c.out) or sweeps.train_run(c),
        log=lambda _: None,
    )
    assert attempts.count(broken) == 2 and len(attempts) == 3
    assert (
        list(result["failed"]) == [str(broken)]
        and "not a readable checkpoint" in result["failed"][str(broken)]
    )
    assert (broken / "last.pt").read_bytes() == b"not a checkpoint" and len(result["trained"]) == 1
    assert main(["sweep", str(path)]) == 1
    assert f"failed: {broken}" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        (dict(methods=["vanilla", "mlaa"]), "unknown method 'mlaa'; valid methods: agm, dgl, "),
        (dict(datasets=["synthetik"]), "unknown dataset 'synthetik'; valid datasets: "),
        (
            dict(seed=[0]),
            "unknown sweep keys: seed; valid sweep keys: out, launcher, profile, methods, datasets, seeds",
        ),
        (
            dict(options={"fusoin": "concat"}),
            "unknown options: fusoin; valid options: fusion, alpha, ",
        ),
        (
            dict(method_options={"dgl": {"alhpa": 1}}),
            "unknown options of dgl: alhpa; valid options of dgl: clip, fusion_dropout",
        ),
        (
            dict(method_options={"mla": {}}),
            "unknown methods in method_options (methods of this sweep): mla; valid",
        ),
        (
            dict(launcher="kubernetes"),
            "unknown launcher 'kubernetes'; valid launchers: local, debug, slurm",
        ),
        (dict(options={"epochs": 0}), "epochs must be an integer >= 1; got 0"),
        (
            dict(methods=["mla"], method_options={"mla": {"projektion": "owm"}}),
            "unknown options of mla: projektion; valid options of mla: fixed_weights, fusion_weights, projection",
        ),
    ],
)
def test_a_bad_name_or_value_fails_before_any_training_with_the_valid_names(
    tmp_path, capsys, changes, message
):
    path = sweep_file(tmp_path, **changes)
    with pytest.raises(UserError) as error:
        sweeps.load_sweep(path)
    assert message in str(error.value)
    with pytest.raises(SystemExit) as exit_:
        main(["sweep", str(path)])
    err = capsys.readouterr().err
    assert (
        exit_.value.code == 2
        and err.startswith("dglnb: error: ")
        and message in err
        and err.count("\n") == 1
    )
    assert not (tmp_path / "sweep").exists()


def test_the_command_reports_a_bad_name_in_one_line_with_status_2(tmp_path):
    path = sweep_file(tmp_path, methods=["mlaa"])
    result = subprocess.run(
        [sys.executable, "-m", "dglnb.cli", "sweep", str(path)], capture_output=True, text=True
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"dglnb: error: unknown method 'mlaa'; valid methods: {', '.join(METHODS.names())}"
    ]


def test_a_bad_method_option_value_fails_before_any_training(tmp_path):
    with pytest.raises(ConfigError, match="rescale must be one of tensor, encoder"):
        sweeps.load_sweep(
            sweep_file(
                tmp_path, methods=["mmpareto"], method_options={"mmpareto": {"rescale": "x"}}
            )
        )


def test_the_example_sweep_file_is_valid():
    sweep = sweeps.load_sweep(Path(__file__).parents[1] / "sweeps" / "table1_quick.yaml")
    assert {run.method for run in sweep.runs} >= {"vanilla", "dgl", "mla", "mmpareto", "dnr"}


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        pytest.param(
            dict(launcher="slurm"),
            'launcher slurm: Could not detect "srun"',
            marks=pytest.mark.skipif(shutil.which("srun") is not None, reason="on a Slurm cluster"),
        ),
        (
            dict(executor={"gpus": 1}),
            "launcher debug: Parameter 'gpus' need to be prefixed by an executor name",
        ),
    ],
)
def test_an_unusable_launcher_fails_in_one_line_before_any_training(
    tmp_path, capsys, changes, message
):
    with pytest.raises(SystemExit) as exit_:
        main(["sweep", str(sweep_file(tmp_path, **changes))])
    err = capsys.readouterr().err
    assert (
        exit_.value.code == 2
        and err.startswith(f"dglnb: error: {message}")
        and err.count("\n") == 1
    )
    assert not any((tmp_path / "sweep").glob("synthetic"))


def test_a_finished_run_of_other_settings_is_reported_not_skipped_or_retrained(tmp_path, capsys):
    assert main(["sweep", str(sweep_file(tmp_path, seeds=[0], methods=["vanilla"]))]) == 0
    metrics = next((tmp_path / "sweep").rglob("metrics.json"))
    before = metrics.read_bytes()
    capsys.readouterr()
    assert (
        main(["sweep", str(sweep_file(tmp_path, seeds=[0], methods=["vanilla"], profile="quick"))])
        == 1
    )
    assert (
        "holds a finished run of other settings (profile='smoke' there, 'quick' here;"
        in capsys.readouterr().out
    )
    assert metrics.read_bytes() == before


def _train_run_once_its_twin_started(folder: Path, config) -> str:
    """sweeps.train_run once both packed runs (seeds 0 and 1) have started (module-level: packed jobs
    are pickled). Runs trained one after the other would leave the first waiting in vain: it fails."""
    (folder / f"seed{config.seed}").touch()
    deadline = time.monotonic() + 300
    while not all((folder / f"seed{seed}").exists() for seed in (0, 1)):
        if time.monotonic() > deadline:
            raise TimeoutError("the other packed run never started: the runs went one at a time")
        time.sleep(0.05)
    return sweeps.train_run(config)


def _note_visible_gpus(folder: Path, config) -> str:
    (folder / f"seed{config.seed}").write_text(os.environ.get("CUDA_VISIBLE_DEVICES", "unset"))
    return str(config.out)


def test_two_packed_runs_train_at_once_and_write_the_metrics_of_runs_one_after_the_other(tmp_path):
    spec = dict(
        methods=["vanilla"], seeds=[0, 1], launcher="local", options={"epochs": 2, "threads": 1}
    )
    (tmp_path / "packed").mkdir()
    (tmp_path / "alone").mkdir()
    packed = sweeps.load_sweep(sweep_file(tmp_path / "packed", **spec))
    alone = sweeps.load_sweep(sweep_file(tmp_path / "alone", **spec))
    started = tmp_path / "started"
    started.mkdir()
    job = functools.partial(_train_run_once_its_twin_started, started)
    result = sweeps.run_sweep(packed, job=job, log=lambda _: None, pack=2)
    assert len(result["trained"]) == 2 and not result["failed"]  # both trained at once
    assert sweeps.run_sweep(alone, log=lambda _: None)["failed"] == {}
    for run, twin in zip(packed.runs, alone.runs):
        assert (run.out / "metrics.json").read_bytes() == (twin.out / "metrics.json").read_bytes()
        assert (run.out / "history.csv").read_bytes() == (twin.out / "history.csv").read_bytes()


def test_local_runs_see_the_gpus_this_process_sees(tmp_path, monkeypatch):
    """submitit's local executor sets CUDA_VISIBLE_DEVICES to its own count of GPUs (none by
    default); the local launcher's processes inherit this process's instead."""
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "3")
    notes = tmp_path / "notes"
    notes.mkdir()
    sweep = sweeps.load_sweep(
        sweep_file(tmp_path, methods=["vanilla"], seeds=[0, 1], launcher="local")
    )
    job = functools.partial(_note_visible_gpus, notes)
    assert sweeps.run_sweep(sweep, job=job, log=lambda _: None, pack=2)["failed"] == {}
    assert [(notes / f"seed{seed}").read_text() for seed in (0, 1)] == ["3", "3"]


@pytest.mark.parametrize(
    ("launcher", "pack", "executor", "message"),
    [
        (
            "debug",
            2,
            {},
            "--pack 2: packing trains N >= 1 runs at a time on this machine, with "
            "launcher local (this sweep's: debug)",
        ),
        ("local", 0, {}, "--pack 0: packing trains N >= 1 runs"),
        (
            "local",
            1,
            {"timeout_min": 5},
            "launcher local takes no executor parameters (given: timeout_min)",
        ),
    ],
)
def test_a_pack_or_executor_the_launcher_cannot_use_fails_before_any_training(
    tmp_path, capsys, launcher, pack, executor, message
):
    path = sweep_file(tmp_path, launcher=launcher, executor=executor)
    with pytest.raises(SystemExit) as exit_:
        main(["sweep", str(path), "--pack", str(pack)])
    err = capsys.readouterr().err
    assert exit_.value.code == 2 and err.startswith(f"dglnb: error: {message}")
    assert err.count("\n") == 1 and not any((tmp_path / "sweep").glob("synthetic"))
