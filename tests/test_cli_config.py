"""``dglnb train``'s options are TrainConfig's fields: every field settable, the same defaults, help
from the fields' documentation, and ``--config FILE.yaml`` with the command line on top of it."""

from __future__ import annotations

import dataclasses
import json
import typing
from pathlib import Path

import pytest
import yaml

from dglnb.cli import build_parser, config_from_args, field_docs, main
from dglnb.config import CHOICES, PROFILES, TrainConfig
from dglnb.config.files import field_types
from dglnb.paths import repo_root

NEEDED = ["train", "--dataset", "synthetic", "--method", "dgl", "--out", "run"]


def config_of(argv: list[str]) -> TrainConfig:
    return config_from_args(build_parser().parse_args(argv))


def another_value(name: str, kind, default, tmp_path: Path) -> tuple[list[str], object]:
    """Command-line words setting field ``name`` (of type ``kind``) to a value other than its
    default, and that value as the config should hold it."""
    flag = "--" + name.replace("_", "-")
    if kind is bool:
        return [f"--no-{flag[2:]}" if default else flag], not default
    if typing.get_origin(kind) is tuple:
        return [flag, "3", "5"], (3, 5)
    if typing.get_origin(kind) is dict:
        words = ["--method-option", "gamma=1.5", "--method-option", "rescale=encoder"]
        return words, {"gamma": 1.5, "rescale": "encoder"}
    if name == "profile" or name in CHOICES:
        value = next(v for v in (PROFILES if name == "profile" else CHOICES[name]) if v != default)
        return [flag, value], value
    value = {
        int: 7,
        float: 0.25,
        str: "cuda:1" if name == "device" else f"some_{name}",
        Path: tmp_path / name,
    }[kind]
    return [flag, str(value)], value


@pytest.mark.parametrize("field", [f.name for f in dataclasses.fields(TrainConfig)])
def test_every_field_of_the_config_is_settable_from_the_command_line(field, tmp_path):
    default = {f.name: f.default for f in dataclasses.fields(TrainConfig)}[field]
    words, value = another_value(field, field_types()[field], default, tmp_path)
    config = config_of([*NEEDED, *words])
    assert getattr(config, field) == value
    unset = getattr(config_of(NEEDED), field)
    assert dataclasses.replace(config, **{field: unset}) == config_of(NEEDED)  # nothing else set


def test_the_command_lines_defaults_are_the_configs():
    assert config_of(NEEDED) == TrainConfig(dataset="synthetic", method="dgl", out=Path("run"))


def test_a_cuda_device_by_number_is_accepted_as_the_config_accepts_it():
    assert config_of([*NEEDED, "--device", "cuda:3"]).device == "cuda:3"


def test_each_option_shows_its_fields_documentation(capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "1000")  # one line per option: no word broken at a hyphen
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    shown = " ".join(capsys.readouterr().out.split())
    docs = field_docs(TrainConfig)
    assert set(docs) == {f.name for f in dataclasses.fields(TrainConfig)}  # every field documented
    assert all(doc in shown for doc in docs.values())
    assert "--milestones [MILESTONES ...]" in shown and "(default: quick)" in shown


def test_a_settings_file_sets_the_run_and_the_command_line_overrides_it(tmp_path):
    settings = tmp_path / "run.yaml"
    settings.write_text(
        "dataset: avdigits\nmethod: ogm_ge\nout: runs/x\nlr: 1e-3\nepochs: 4\n"
        "milestones: [2, 3]\nmethod_options: {modulation_alpha: 0.3, warmup: 1}\n"
    )
    config = config_of(
        ["train", "--config", str(settings), "--epochs", "6", "--method-option", "warmup=2"]
    )
    assert (config.dataset, config.method, config.out) == ("avdigits", "ogm_ge", Path("runs/x"))
    assert config.lr == 0.001  # "1e-3", a string to YAML, read as the field's float
    assert (config.epochs, config.milestones) == (6, (2, 3))
    assert config.method_options == {"modulation_alpha": 0.3, "warmup": 2}


def test_a_sweeps_options_make_a_settings_file(tmp_path):
    """A sweep file's ``options`` are TrainConfig fields: with a dataset and a method they are one run."""
    sweep = yaml.safe_load((repo_root() / "sweeps" / "table1_quick.yaml").read_text())
    (tmp_path / "run.yaml").write_text(
        yaml.safe_dump({"dataset": "synthetic", "method": "dgl", **sweep["options"]})
    )
    config = config_of(["train", "--config", str(tmp_path / "run.yaml"), "--out", "x"])
    assert all(getattr(config, k) == v for k, v in sweep["options"].items())


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "dataset: synthetic\nmethod: dgl\nout: x\nlearning_rate: 0.1\n",
            "unknown settings in {file}: learning_rate; valid settings: dataset, method, fusion",
        ),
        ("[dgl, vanilla]\n", "the settings file {file} must map TrainConfig fields to values"),
        (
            "method: dgl\nout: x\n",
            "dglnb train needs --dataset (on the command line or in --config)",
        ),
        (
            "dataset: synthetic\nmethod: dgl\nout: x\nmethod_options: [1]\n",
            "method_options in {file} must map",
        ),
    ],
)
def test_a_bad_settings_file_is_one_line_with_status_2(tmp_path, capsys, text, message):
    (tmp_path / "run.yaml").write_text(text)
    with pytest.raises(SystemExit) as stop:
        main(["train", "--config", str(tmp_path / "run.yaml")])
    err = capsys.readouterr().err
    assert stop.value.code == 2 and len(err.strip().splitlines()) == 1
    assert err.startswith("dglnb: error: " + message.format(file=tmp_path / "run.yaml"))


def test_a_run_from_a_settings_file_records_its_settings(tmp_path, capsys):
    (tmp_path / "run.yaml").write_text(
        "dataset: synthetic\nmethod: dgl\nprofile: smoke\n"
        f"alpha: 2.5\nout: {tmp_path / 'run'}\nprogress: false\n"
    )
    assert main(["train", "--config", str(tmp_path / "run.yaml"), "--lr", "0.02"]) == 0
    recorded = json.loads((tmp_path / "run" / "metrics.json").read_text())["config"]
    assert (recorded["alpha"], recorded["lr"], recorded["profile"]) == (2.5, 0.02, "smoke")
