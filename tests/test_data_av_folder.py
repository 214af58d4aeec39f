"""av_folder: a user's folder of real wav + mp4/jpg/png files -> data_prep -> check -> loader -> dglnb train."""

import json
import subprocess
import sys

import numpy as np
import pytest
import torch

from dglnb.data import load_dataset
from dglnb.data.audio import file_spectrogram, get_spec
from dglnb.data.av_folder import Clip, class_warnings, make_splits, prepare
from dglnb.data.check import check_dataset
from dglnb.data.errors import DataError
from dglnb.data.prepared import IMAGENET_MEAN, IMAGENET_STD
from dglnb.paths import repo_root
from fixtures.av_folder import PICTURE, SKIPPED, make_av_folder, shade

SHARES = dict(
    test_share=0.2, val_share=0.25
)  # 5 clips per class: one to test, one to validate, three to train


@pytest.fixture(scope="module")
def raw(tmp_path_factory):
    return make_av_folder(tmp_path_factory.mktemp("my_clips"))


@pytest.fixture(scope="module")
def prepared(raw, tmp_path_factory):
    out = tmp_path_factory.mktemp("data_root") / "mine"
    prepare(raw, out, frame_side=32, **SHARES)
    return out


def manifest_of(root):
    return json.loads((root / "manifest.json").read_text())


def test_every_file_that_makes_no_clip_is_named_with_its_reason(prepared):
    skipped = {s["id"]: s["reason"] for s in manifest_of(prepared)["skipped"]}
    assert set(skipped) == set(SKIPPED)
    for clip_id, reason in SKIPPED.items():
        assert skipped[clip_id].startswith(reason), skipped[clip_id]


def test_classes_come_from_the_folders_and_splits_are_made_per_class(prepared):
    manifest = manifest_of(prepared)
    assert manifest["classes"] == ["bird", "cat", "dog", "solo"]
    assert manifest["class_counts"] == {
        "train": [3, 3, 3, 1],
        "val": [1, 1, 1, 0],
        "test": [1, 1, 1, 0],
    }
    assert manifest["options"]["splits"] == "made" and manifest["options"]["seed"] == 0
    assert manifest["shapes"] == {
        "audio": [257, 299],
        "visual": [-1, 32, 32, 3],
    }  # CREMA-D's settings
    assert "solo/only" in manifest["splits"]["train"]["ids"]


def test_a_class_with_one_clip_is_kept_in_train_with_a_warning(prepared):
    assert manifest_of(prepared)["warnings"] == [
        "class 'solo' (1 clip(s)) has none in val, test: it is trained on but never validated or tested"
    ]


def test_a_class_that_lost_every_clip_is_reported():
    splits = {"train": ["a/0"], "val": ["a/1"], "test": ["a/2"]}
    assert class_warnings(["a"], {"a/0": 0, "a/1": 0, "a/2": 0}, splits, {"a", "empty"}) == [
        "class 'empty' has no usable clip: it is left out of the class list"
    ]


def test_the_made_split_depends_on_the_seed_alone():
    clips = [Clip(f"{c}/{k}", c, None, None, None) for c in "abc" for k in range(10)]
    labels = {clip.clip_id: "abc".index(clip.label) for clip in clips}
    first = make_splits(clips, labels, 0.2, 0.2, seed=0)
    assert make_splits(clips[::-1], labels, 0.2, 0.2, seed=0) == first
    assert make_splits(clips, labels, 0.2, 0.2, seed=1) != first
    assert all(sum(labels[i] == y for i in first["test"]) == 2 for y in range(3))


def test_loader_pairs_sound_and_picture_by_id(prepared, raw):
    data = load_dataset("av_folder", "test", profile="full", data_root=prepared)
    assert data.info.num_classes == 4 and data.info.shapes == {
        "audio": (1, 257, 299),
        "visual": (3, 1, 32, 32),
    }
    assert len(data) == 3
    for item in data:
        expected = file_spectrogram(raw / f"{item['id']}.wav", get_spec("paper"))
        assert np.allclose(item["audio"][0].numpy(), expected, atol=1e-2)
        picture = (item["visual"] * IMAGENET_STD + IMAGENET_MEAN) * 255
        assert abs(picture[:, 0, :, 16:].mean().item() - shade(item["id"])) < 4, item[
            "id"
        ]  # the right half
        assert item["label"] == list(PICTURE).index(item["id"].split("/")[0])


def test_a_csv_list_gives_the_splits_and_names_missing_files(raw, tmp_path):
    rows = [
        "path,label,split",
        "bird/bird0.wav,bird,train",
        "bird/bird1,bird,train",
        "cat/cat0,cat,train",
        "cat/cat1,cat,train",
        "bird/bird2,bird,test",
        "cat/cat2.png,cat,test",
        "cat/cat3,cat,val",
        "bird/bird3,bird,val",
        "dog/gone,dog,train",
    ]
    (tmp_path / "list.csv").write_text("\n".join(rows) + "\n")
    manifest = prepare(raw, tmp_path / "out", csv_list=tmp_path / "list.csv", frame_side=32)
    splits = {s: v["ids"] for s, v in manifest["splits"].items()}
    assert splits == {
        "train": ["bird/bird0", "bird/bird1", "cat/cat0", "cat/cat1"],
        "val": ["bird/bird3", "cat/cat3"],
        "test": ["bird/bird2", "cat/cat2"],
    }
    assert manifest["classes"] == ["bird", "cat"] and manifest["options"]["splits"] == "given"
    assert [s["id"] for s in manifest["skipped"]] == ["dog/gone"] and "missing" in manifest[
        "skipped"
    ][0]["reason"]


@pytest.mark.parametrize(
    ("rows", "named"),
    [
        (
            ["path,label,split", "bird/bird0,bird,train", "bird/bird1,bird,"],
            "clip bird/bird1 has no split",
        ),
        (
            ["path,label,split", "bird/bird0,bird,training"],
            "list.csv:2: split 'training' is not one of",
        ),
        (
            ["path,label", "bird/bird0,bird", "bird/bird0.wav,bird"],
            "list.csv:3: bird/bird0 is listed twice",
        ),
        (["file,class", "bird/bird0,bird"], "the header row must name the columns path and label"),
    ],
)
def test_a_malformed_csv_list_is_refused_naming_the_rows(raw, tmp_path, rows, named):
    (tmp_path / "list.csv").write_text("\n".join(rows) + "\n")
    with pytest.raises(DataError, match="What to do") as error:
        prepare(raw, tmp_path / "out", csv_list=tmp_path / "list.csv", frame_side=32)
    assert named in str(error.value)


def test_strict_stops_naming_every_skipped_file(raw, tmp_path):
    with pytest.raises(DataError) as error:
        prepare(raw, tmp_path / "out", frame_side=32, strict=True, **SHARES)
    assert all(name in str(error.value) for name in SKIPPED)
    assert not (tmp_path / "out" / "manifest.json").exists()


def test_too_few_clips_for_a_split_says_what_to_do(raw, tmp_path):
    (tmp_path / "list.csv").write_text("path,label\nbird/bird0,bird\nbird/bird1,bird\n")
    with pytest.raises(DataError, match="leave the val split.* empty. What to do"):
        prepare(
            raw, tmp_path / "out", csv_list=tmp_path / "list.csv", frame_side=32, test_share=0.5
        )


def test_script_summarises_the_skips_and_dglnb_trains_on_the_folder(raw, tmp_path):
    out = tmp_path / "data_root" / "mine"
    done = subprocess.run(
        [
            sys.executable,
            str(repo_root() / "data_prep" / "av_folder.py"),
            "--raw",
            str(raw),
            "--out",
            str(out),
            "--frame-side",
            "32",
            "--test-share",
            "0.2",
            "--val-share",
            "0.25",
        ],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    assert (
        "av_folder: 16 clips in 4 classes; skipped 4 (1 unreadable audio, 1 no picture, 1 not a clip file, "
        "1 outside the layout)"
    ) in done.stdout
    assert "warning: class 'solo' (1 clip(s)) has none in val, test" in done.stdout
    assert "all 16 clips readable" in check_dataset("av_folder", out)

    from dglnb.cli import main

    run = tmp_path / "run"
    assert (
        main(
            [
                "train",
                "--dataset",
                "av_folder",
                "--data-root",
                str(out),
                "--method",
                "dgl",
                "--profile",
                "smoke",
                "--out",
                str(run),
                "--no-progress",
            ]
        )
        == 0
    )
    metrics = json.loads((run / "metrics.json").read_text())
    assert set(metrics["test_score"]) == {"multimodal", "audio", "visual"}
    head = [
        v
        for k, v in torch.load(run / "best.pt", weights_only=False)["model"].items()
        if k.endswith("weight")
    ][-1]
    assert head.shape[0] == 4  # one output per class of the data
