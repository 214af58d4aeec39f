"""``dglnb train``: a user's mistake is one line on stderr and status 2, never a traceback; a run
stopped by its environment is one line and status 1."""

from __future__ import annotations

import subprocess
import sys

import pytest

from dglnb.cli import main
from dglnb.errors import RunStopped, UserError
from dglnb.train import run as experiment
from dglnb.train import splits

TRAIN = [
    "train",
    "--dataset",
    "synthetic",
    "--method",
    "dgl",
    "--profile",
    "smoke",
    "--no-progress",
]


def run_cli(args: list[str], capsys) -> tuple[int, list[str]]:
    """Exit status and stderr lines of ``dglnb`` run in this process."""
    with pytest.raises(SystemExit) as exit_:
        main(args)
    return exit_.value.code, capsys.readouterr().err.strip().splitlines()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--alpha", "-1"], "alpha must be a number >= 0; got -1.0"),
        (["--epochs", "0"], "epochs must be an integer >= 1; got 0"),
        (
            ["--data-root", "/no/such/folder"],
            "data_root must be an existing path: prepare the dataset with its "
            "data_prep/ script (see data_prep/README.md) and pass the folder it wrote; "
            "got '/no/such/folder'",
        ),
        (
            ["--fusion", "attention"],
            "unknown fusion 'attention'; valid fusions: concat, esanet, esanet_raw_skips, film, gated, "
            "mlp_mixer, mmtm, sum",
        ),
        (["--batch-size", "0"], "batch_size must be an integer >= 1; got 0"),
        (["--num-workers", "-1"], "num_workers must be an integer >= 0; got -1"),
        (
            ["--pretrained", "/no/such.pth"],
            "pretrained must be an existing file: a torchvision ResNet18 state dict "
            "saved with torch.save, or None; got '/no/such.pth'",
        ),
    ],
)
def test_an_invalid_argument_is_one_line_with_status_2(tmp_path, capsys, args, message):
    status, lines = run_cli(TRAIN + ["--out", str(tmp_path / "run"), *args], capsys)
    assert (status, lines) == (2, [f"dglnb: error: {message}"])
    assert not (tmp_path / "run").exists()


def test_an_unknown_dataset_lists_the_valid_ones(tmp_path, capsys):
    status, lines = run_cli(
        ["train", "--dataset", "imagenet", "--method", "dgl", "--out", str(tmp_path)], capsys
    )
    assert status == 2 and lines[0].startswith(
        "dglnb: error: unknown dataset 'imagenet'; valid datasets: "
    )


def test_an_unknown_profile_is_refused_by_the_parser_listing_the_valid_ones(tmp_path, capsys):
    status, lines = run_cli(TRAIN + ["--profile", "fast", "--out", str(tmp_path)], capsys)
    assert status == 2 and "argument --profile: invalid choice: 'fast'" in lines[-1]
    assert all(profile in lines[-1] for profile in ("smoke", "quick", "full"))


def test_a_dataset_error_is_printed_with_its_advice_and_status_2(tmp_path, capsys, monkeypatch):
    """Dataset loaders raise a UserError subclass for missing or unprepared data; the CLI shows its message."""

    class DataNotPrepared(UserError):
        pass

    def load_dataset(*args, **kwargs):
        raise DataNotPrepared(
            "/data/cremad/manifest.json does not exist. What to do: run data_prep/cremad.py"
        )

    monkeypatch.setattr(splits, "load_dataset", load_dataset)
    status, lines = run_cli(TRAIN + ["--out", str(tmp_path)], capsys)
    assert (status, lines) == (
        2,
        [
            "dglnb: error: /data/cremad/manifest.json does not exist. "
            "What to do: run data_prep/cremad.py"
        ],
    )


def test_a_stopped_run_is_one_line_with_status_1(tmp_path, capsys, monkeypatch):
    def fit(*args, **kwargs):
        raise RunStopped("could not write last.pt: No space left on device")

    monkeypatch.setattr(experiment, "fit", fit)
    status, lines = run_cli(TRAIN + ["--out", str(tmp_path)], capsys)
    assert (status, lines) == (
        1,
        ["dglnb: error: could not write last.pt: No space left on device"],
    )


def test_resuming_from_a_corrupt_checkpoint_is_one_line_without_a_traceback(tmp_path):
    (tmp_path / "last.pt").write_bytes(b"not a checkpoint")
    result = subprocess.run(
        [sys.executable, "-m", "dglnb.cli", *TRAIN, "--out", str(tmp_path), "--resume"],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 2
    assert result.stderr.startswith(
        f"dglnb: error: {tmp_path / 'last.pt'} is not a readable checkpoint ("
    )
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_data_check_of_an_unprepared_folder_is_one_line_and_exit_2(tmp_path, capsys):
    with pytest.raises(SystemExit) as stop:
        main(["data", "check", "--dataset", "cremad", "--data-root", str(tmp_path)])
    assert stop.value.code == 2
    err = capsys.readouterr().err
    assert (
        err.startswith("dglnb: error: ") and "data_prep/cremad.py" in err and "Traceback" not in err
    )
