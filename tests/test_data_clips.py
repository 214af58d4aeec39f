"""Kinetics-Sounds and VGGSound: mp4 fixtures + list files -> data_prep -> check -> loader."""

import json
import subprocess
import sys

import numpy as np
import pytest

from dglnb.data import kinetics_sounds, load_dataset, vggsound
from dglnb.data.check import check_dataset
from dglnb.data.errors import DataError
from dglnb.paths import repo_root
from fixtures.clips import CLASSES, make_clip, make_kinetics_sounds, make_vggsound


@pytest.fixture(scope="module")
def ks_raw(tmp_path_factory):
    return make_kinetics_sounds(tmp_path_factory.mktemp("ks"))


@pytest.fixture(scope="module")
def ks_prepared(ks_raw, tmp_path_factory):
    out = tmp_path_factory.mktemp("ks_out")
    kinetics_sounds.prepare(*ks_raw, out, expected_classes=3, frame_side=32, val_share=0.3)
    return out


def test_kinetics_sounds_prep_check_and_load(ks_prepared):
    manifest = json.loads((ks_prepared / "manifest.json").read_text())
    assert manifest["classes"] == sorted(CLASSES)
    assert {s: sum(c) for s, c in manifest["class_counts"].items()} == {
        "train": 6,
        "val": 3,
        "test": 3,
    }
    assert manifest["shapes"] == {"audio": [257, 1004], "visual": [3, 32, 32, 3]}
    assert "all 12 clips readable" in check_dataset("kinetics_sounds", ks_prepared)
    data = load_dataset("kinetics_sounds", "test", profile="full", data_root=ks_prepared)
    item = data[0]
    assert item["audio"].shape == (1, 257, 1004) and item["visual"].shape == (3, 3, 32, 32)
    assert data.info.num_classes == 3 and item["label"] == sorted(CLASSES).index(
        CLASSES[int(item["id"][2])]
    )


def test_three_frames_are_spread_over_the_clip(ks_prepared):
    frames = np.load(ks_prepared / "visual" / "ks0te0_000010_000020.npy")
    assert frames.shape[0] == 3 and len({int(f[0, -1, 0]) for f in frames}) == 3


def test_unexpected_class_count_says_which_option_to_pass(ks_raw, tmp_path):
    with pytest.raises(DataError, match="3 classes, expected 31.*--expected-classes 3"):
        kinetics_sounds.prepare(*ks_raw, tmp_path / "out")


def test_bad_clips_are_named(ks_raw, tmp_path):
    clips, train, test = ks_raw
    make_clip(tmp_path / "clips" / "short.mp4", seconds=2)
    make_clip(tmp_path / "clips" / "silent.mp4", audio=False)
    (tmp_path / "clips" / "truncated.mp4").write_bytes(
        (clips / "ks0tr0_000010_000020.mp4").read_bytes()[:300]
    )
    for src in clips.iterdir():
        (tmp_path / "clips" / src.name).symlink_to(src)
    extra = "short,10,singing\nsilent,10,singing\ntruncated,10,singing\nabsent,10,singing\n"
    (tmp_path / "train.txt").write_text(train.read_text() + extra)
    (tmp_path / "test.txt").write_text(test.read_text() + "odd,10,whistling\n")
    manifest = kinetics_sounds.prepare(
        tmp_path / "clips",
        tmp_path / "train.txt",
        tmp_path / "test.txt",
        tmp_path / "out",
        expected_classes=3,
        frame_side=32,
    )
    reasons = {s["id"]: s["reason"] for s in manifest["skipped"]}
    assert set(reasons) == {"short", "silent", "truncated", "absent", "odd"}
    assert "only 2 frame(s)" in reasons["short"] and "no audio stream" in reasons["silent"]
    assert (
        "does not exist" in reasons["absent"]
        and "not one of the 3 training classes" in reasons["odd"]
    )
    with pytest.raises(DataError, match="truncated.mp4"):
        kinetics_sounds.prepare(
            tmp_path / "clips",
            tmp_path / "train.txt",
            tmp_path / "test.txt",
            tmp_path / "out2",
            expected_classes=3,
            frame_side=32,
            strict=True,
        )


def test_vggsound_script_prepares_padded_and_unpadded_names(tmp_path):
    clips, csv_path = make_vggsound(tmp_path / "raw")
    out = tmp_path / "out"
    done = subprocess.run(
        [
            sys.executable,
            str(repo_root() / "data_prep" / "vggsound.py"),
            "--clips",
            str(clips),
            "--csv",
            str(csv_path),
            "--out",
            str(out),
            "--expected-classes",
            "3",
            "--spectrogram",
            "official_5s",
            "--frame-side",
            "32",
        ],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    assert "skipped 0 bad clip(s)" in done.stdout
    assert "all 12 clips readable" in check_dataset("vggsound", out)
    data = load_dataset("vggsound", "train", profile="smoke", data_root=out)
    assert data[0]["audio"].shape == (1, 32, 156) and data[0]["visual"].shape == (3, 3, 32, 32)
    splits = json.loads((out / "manifest.json").read_text())["splits"]
    assert "yt0tr1_000031" in splits["train"]["ids"] + splits["val"]["ids"]  # stored unpadded


def test_vggsound_rows_in_the_wrong_format_are_named(tmp_path):
    (tmp_path / "v.csv").write_text("abc,1,dog,train\nabc,x,dog,train\nabc,1,dog\n")
    with pytest.raises(DataError, match=r"v.csv:2.*\n.*v.csv:3"):
        vggsound.read_csv(tmp_path / "v.csv")


@pytest.mark.parametrize("dataset", ["kinetics_sounds", "vggsound"])
def test_smoke_training_through_the_cli(dataset, ks_prepared, tmp_path):
    from dglnb.cli import main

    root = ks_prepared
    if dataset == "vggsound":
        clips, csv_path = make_vggsound(tmp_path / "raw")
        root = tmp_path / "prepared"
        vggsound.prepare(clips, csv_path, root, expected_classes=3, frame_side=32)
    assert (
        main(
            [
                "train",
                "--dataset",
                dataset,
                "--data-root",
                str(root),
                "--method",
                "dgl",
                "--profile",
                "smoke",
                "--out",
                str(tmp_path / "run"),
            ]
        )
        == 0
    )
