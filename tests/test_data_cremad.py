"""CREMA-D: release fixture -> data_prep -> dglnb data check -> loader, and every bad input."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import torch

from dglnb.data import load_dataset
from dglnb.data.audio import file_spectrogram, get_spec
from dglnb.data.check import check_dataset
from dglnb.data.cremad import CLASSES, prepare
from dglnb.data.errors import DataError
from dglnb.data.prepared import IMAGENET_MEAN, IMAGENET_STD
from dglnb.paths import repo_root
from dglnb.train.loaders import make_loader, start_epoch
from fixtures.cremad import clip_names, make_cremad, write_split_files


@pytest.fixture(scope="module")
def raw(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cremad_raw")
    make_cremad(folder, per_class=4)
    return folder


@pytest.fixture(scope="module")
def prepared(raw, tmp_path_factory):
    out = tmp_path_factory.mktemp("cremad_out")
    prepare(raw, out, val_share=0.25)
    return out


def test_prep_writes_a_manifest_with_stratified_splits(prepared):
    manifest = json.loads((prepared / "manifest.json").read_text())
    assert manifest["classes"] == list(CLASSES)
    assert manifest["shapes"] == {"audio": [257, 299], "visual": [-1, 224, 224, 3]}
    counts = manifest["class_counts"]
    assert np.sum([counts[s] for s in ("train", "val", "test")], axis=0).tolist() == [4] * 6
    ids = [i for s in manifest["splits"].values() for i in s["ids"]]
    assert sorted(ids) == sorted(clip_names(4)) and manifest["skipped"] == []


def test_check_summarises_a_good_folder(prepared):
    summary = check_dataset("cremad", prepared)
    assert "all 24 clips readable" in summary and "train" in summary


def test_loader_items_follow_the_contract_and_pair_by_id(prepared, raw):
    data = load_dataset("cremad", "test", profile="full", data_root=prepared)
    assert data.info.shapes == {"audio": (1, 257, 299), "visual": (3, 1, 224, 224)}
    for i in range(len(data)):
        item = data[i]
        expected = file_spectrogram(raw / "AudioWAV" / f"{item['id']}.wav", get_spec("paper"))
        assert np.allclose(item["audio"][0].numpy(), expected, atol=1e-2)
        assert item["label"] == CLASSES.index(item["id"].split("_")[2])
        assert item["visual"].dtype == torch.float32


def test_smoke_profile_shrinks_the_inputs(prepared):
    data = load_dataset("cremad", "train", profile="smoke", data_root=prepared)
    assert data[0]["audio"].shape == data.info.shapes["audio"] == (1, 64, 74)
    assert data[0]["visual"].shape == data.info.shapes["visual"] == (3, 1, 32, 32)


def test_official_split_files_decide_the_test_set(raw, tmp_path):
    names = clip_names(4)
    test = names[::4]
    split_dir = write_split_files(tmp_path / "splits", [n for n in names if n not in test], test)
    manifest = prepare(
        raw, tmp_path / "out", split_dir=split_dir, spectrogram_name="official", frame_side=32
    )
    assert manifest["splits"]["test"]["ids"] == sorted(test)
    assert manifest["shapes"]["audio"] == [257, 188]


def test_split_file_label_outside_the_class_list_is_named(raw, tmp_path):
    (tmp_path / "s").mkdir()
    (tmp_path / "s" / "train.csv").write_text("1001_DFA_ANG_XX,ANGRY\n")
    (tmp_path / "s" / "test.csv").write_text("")
    with pytest.raises(DataError, match=r"train.csv:1: label 'ANGRY'"):
        prepare(raw, tmp_path / "out", split_dir=tmp_path / "s", frame_side=32)


def test_missing_release_folder_says_what_to_do(tmp_path):
    with pytest.raises(DataError, match="AudioWAV.*What to do"):
        prepare(tmp_path / "nowhere", tmp_path / "out")


@pytest.fixture()
def broken_raw(tmp_path):
    raw = tmp_path / "raw"
    make_cremad(raw, per_class=2, seconds=1.2)
    (raw / "AudioWAV" / "1001_DFA_NEU_XX.wav").write_bytes(b"RIFF\x00\x01garbage")  # truncated wav
    (raw / "VideoFlash" / "1001_DFA_HAP_XX.flv").write_bytes(b"")  # empty video
    (raw / "VideoFlash" / "1002_DFA_SAD_XX.flv").unlink()  # audio without video
    (raw / "AudioWAV" / "1002_DFA_FEA_XX.wav").unlink()  # video without audio
    os.rename(raw / "AudioWAV" / "1002_DFA_DIS_XX.wav", raw / "AudioWAV" / "1002_DFA_BOR_XX.wav")
    os.rename(
        raw / "VideoFlash" / "1002_DFA_DIS_XX.flv", raw / "VideoFlash" / "1002_DFA_BOR_XX.flv"
    )
    return raw


BAD = [
    "1001_DFA_NEU_XX",
    "1001_DFA_HAP_XX",
    "1002_DFA_SAD_XX",
    "1002_DFA_FEA_XX",
    "1002_DFA_BOR_XX",
]


def test_bad_clips_are_skipped_and_named(broken_raw, tmp_path):
    manifest = prepare(broken_raw, tmp_path / "out", frame_side=32, val_share=0.2)
    assert sorted(s["id"] for s in manifest["skipped"]) == sorted(BAD)
    reasons = " ".join(s["reason"] for s in manifest["skipped"])
    for words in (
        "unreadable audio",
        "unreadable video",
        "has no video",
        "has no audio",
        "not one of",
    ):
        assert words in reasons
    assert sum(sum(c) for c in manifest["class_counts"].values()) == 12 - len(BAD)
    assert "5 clip(s) skipped" in check_dataset("cremad", tmp_path / "out")


def test_strict_stops_naming_every_bad_clip_and_writes_no_manifest(broken_raw, tmp_path):
    with pytest.raises(DataError) as error:
        prepare(broken_raw, tmp_path / "out", frame_side=32, strict=True)
    assert all(name in str(error.value) for name in BAD) and "What to do" in str(error.value)
    assert not (tmp_path / "out" / "manifest.json").exists()
    assert not list((tmp_path / "out").rglob("*.tmp"))


def test_rerun_resumes_without_rewriting_finished_clips(raw, tmp_path):
    prepare(raw, tmp_path / "out", frame_side=32)
    done = tmp_path / "out" / "audio" / "1001_DFA_ANG_XX.npy"
    stamp = done.stat().st_mtime_ns
    (tmp_path / "out" / "visual" / "1002_DFA_ANG_XX.npy").unlink()
    prepare(raw, tmp_path / "out", frame_side=32)
    assert done.stat().st_mtime_ns == stamp
    assert (tmp_path / "out" / "visual" / "1002_DFA_ANG_XX.npy").is_file()


def test_check_and_loader_name_missing_files_and_count_mismatches(raw, tmp_path):
    out = tmp_path / "out"
    prepare(raw, out, frame_side=32)
    manifest = json.loads((out / "manifest.json").read_text())
    victim = manifest["splits"]["test"]["ids"][0]
    (out / "audio" / f"{victim}.npy").unlink()
    (out / "visual" / f"{manifest['splits']['train']['ids'][0]}.npy").write_bytes(b"not numpy")
    with pytest.raises(DataError, match=victim) as error:
        check_dataset("cremad", out)
    assert "unreadable" in str(error.value)
    with pytest.raises(DataError, match=f"{victim}.npy"):
        load_dataset("cremad", "test", data_root=out)
    manifest["class_counts"]["val"][0] += 1
    (out / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(DataError, match="class counts"):
        load_dataset("cremad", "val", data_root=out)


def test_loader_without_data_root_or_manifest_says_what_to_run(tmp_path):
    with pytest.raises(DataError, match="data_prep/cremad.py"):
        load_dataset("cremad", "train")
    with pytest.raises(DataError, match="manifest.json does not exist"):
        load_dataset("cremad", "train", data_root=tmp_path)


def test_scripts_prepare_with_workers_and_cli_checks(raw, tmp_path):
    root = repo_root()
    out = tmp_path / "out"
    run = [
        sys.executable,
        str(root / "data_prep" / "cremad.py"),
        "--raw",
        str(raw),
        "--out",
        str(out),
        "--workers",
        "2",
        "--frame-side",
        "32",
    ]
    done = subprocess.run(run, capture_output=True, text=True, check=True)
    assert "skipped 0 bad clip(s)" in done.stdout
    check = subprocess.run(
        [
            sys.executable,
            "-m",
            "dglnb.cli",
            "data",
            "check",
            "--dataset",
            "cremad",
            "--data-root",
            str(out),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "all 24 clips readable" in check.stdout
    failed = subprocess.run(
        [*run[:3], str(tmp_path / "none"), *run[4:]], capture_output=True, text=True
    )
    assert failed.returncode == 1 and "What to do" in failed.stderr


def test_smoke_training_through_the_cli(prepared, tmp_path):
    from dglnb.cli import main

    assert (
        main(
            [
                "train",
                "--dataset",
                "cremad",
                "--data-root",
                str(prepared),
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
    assert (tmp_path / "run" / "metrics.json").is_file()


def frame_drawn(root, sample_id, visual) -> int:
    """Which stored frame of ``sample_id`` an item's (3, 1, H, W) visual tensor shows."""
    stored = np.load(root / "visual" / f"{sample_id}.npy").astype(np.float32) / 255
    shown = (visual * IMAGENET_STD + IMAGENET_MEAN)[:, 0].permute(1, 2, 0).numpy()
    return int(np.argmin([np.abs(frame - shown).mean() for frame in stored]))


def epoch_draws(data, epoch: int, workers: int) -> list[tuple[str, int]]:
    """(id, frame drawn) per batch of one training epoch, batch size 1: with 2 workers, even
    positions come from worker 0 and odd ones from worker 1."""
    loader = make_loader(data, 1, shuffle=True, seed=0, num_workers=workers)
    start_epoch(loader, 0, epoch)
    return [(b["id"][0], frame_drawn(data.root, b["id"][0], b["visual"][0])) for b in loader]


def test_training_frames_differ_between_workers_and_epochs_and_repeat_on_a_rerun(prepared):
    data = load_dataset("cremad", "train", profile="full", data_root=prepared)
    first, second = epoch_draws(data, 0, workers=2), epoch_draws(data, 1, workers=2)
    frames = [f for _, f in first]
    assert (
        frames[0::2] != frames[1::2][: len(frames[0::2])]
    )  # worker 0 and worker 1 draw different streams
    assert frames != [f for _, f in second]  # each epoch draws afresh
    assert dict(first) != dict(second) and {f for _, f in first + second} == {0, 1, 2}
    assert (
        epoch_draws(data, 1, workers=0) == second
    )  # a function of (seed, epoch, sample), whichever worker


def test_a_training_split_never_told_an_epoch_shows_the_first_frame(prepared):
    data = load_dataset("cremad", "train", profile="full", data_root=prepared)
    assert {frame_drawn(prepared, data[i]["id"], data[i]["visual"]) for i in range(len(data))} == {
        0
    }


def test_the_linear_probe_encodes_un_augmented_training_inputs_in_eval_mode(
    prepared, tmp_path, monkeypatch
):
    from dglnb.config import TrainConfig
    from dglnb.train import loop, train
    from dglnb.train import probe as probes

    seen: dict[str, list] = {"visual": [], "training": []}
    probe, encode = loop.linear_probe, probes.encode_split

    def spy_probe(model, train_loader, test_loader, device):
        seen["visual"] += [b["visual"] for b in train_loader]
        return probe(model.train(), train_loader, test_loader, device)  # handed over in train mode

    def spy_encode(model, loader, device):
        model.encode = lambda batch: (
            seen["training"].append(model.training) or type(model).encode(model, batch)
        )
        return encode(model, loader, device)

    monkeypatch.setattr(loop, "linear_probe", spy_probe)
    monkeypatch.setattr(probes, "encode_split", spy_encode)
    train(
        TrainConfig(
            dataset="cremad",
            method="dgl",
            profile="smoke",
            epochs=2,
            data_root=prepared,
            threads=1,
            progress=False,
            out=tmp_path,
        )
    )
    plain = load_dataset("cremad", "train", profile="smoke", data_root=prepared)
    assert torch.equal(
        torch.cat(seen["visual"]), torch.stack([plain[i]["visual"] for i in range(len(plain))])
    )
    assert seen["training"] and not any(seen["training"])
