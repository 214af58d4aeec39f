"""NYUv2: HDF5 .mat + splits.mat + mapping -> data_prep -> check -> segmentation loader."""

import numpy as np
import pytest
import torch

from dglnb.data import load_dataset
from dglnb.data.check import check_dataset
from dglnb.data.errors import DataError
from dglnb.data.nyuv2 import prepare, read_mapping
from fixtures.nyuv2 import COUNT, HEIGHT, TEST, TRAIN, WIDTH, make_nyuv2


@pytest.fixture(scope="module")
def raw(tmp_path_factory):
    return make_nyuv2(tmp_path_factory.mktemp("nyu"))


@pytest.fixture(scope="module")
def prepared(raw, tmp_path_factory):
    out = tmp_path_factory.mktemp("nyu_out")
    prepare(*raw, out, val_share=0.2)
    return out


def test_prep_undoes_matlab_axes_and_maps_to_40_classes(raw, prepared):
    rgb = np.load(prepared / "rgb" / "0003.npy")
    assert rgb.shape == (HEIGHT, WIDTH, 3) and rgb[0, 0, 0] == 3 and rgb[-1, 0, 0] == 255
    assert np.load(prepared / "depth" / "0003.npy")[0, 0] == 3
    label = np.load(prepared / "label" / "0003.npy")
    raw_label = np.load(raw[0].parent / "labels_raw.npy")[2]
    assert ((label == 255) == (raw_label == 0)).all()
    assert (label[raw_label > 0] == (raw_label[raw_label > 0] - 1) % 40).all()


def test_official_splits_are_one_based_and_val_is_carved_from_train(prepared):
    import json

    splits = json.loads((prepared / "manifest.json").read_text())["splits"]
    assert splits["test"] == [f"{i:04d}" for i in TEST]
    assert (
        sorted(splits["train"] + splits["val"]) == [f"{i:04d}" for i in TRAIN]
        and len(splits["val"]) == 1
    )


def test_loader_returns_rgb_depth_and_long_labels(prepared):
    data = load_dataset("nyuv2", "test", profile="full", data_root=prepared)
    item = data[0]
    assert data.info.task == "segmentation" and data.info.num_classes == 40
    assert item["rgb"].shape == (3, 480, 640) and item["depth"].shape == (1, 480, 640)
    assert item["label"].shape == (480, 640) and item["label"].dtype == torch.long
    assert set(item["label"].unique().tolist()) <= set(range(40)) | {255}
    small = load_dataset("nyuv2", "train", profile="smoke", data_root=prepared)[0]
    assert small["rgb"].shape == (3, 60, 80) and small["label"].shape == (60, 80)


def test_check_summarises(prepared):
    assert "all 7 images readable" in check_dataset("nyuv2", prepared)


def test_mapping_formats(tmp_path):
    np.savetxt(tmp_path / "m.txt", np.r_[0, np.arange(894) % 40 + 1])
    np.save(tmp_path / "m.npy", np.arange(894) % 40 + 1)
    assert (read_mapping(tmp_path / "m.txt") == read_mapping(tmp_path / "m.npy")).all()
    np.save(tmp_path / "bad.npy", np.arange(10))
    with pytest.raises(DataError, match="10 entries"):
        read_mapping(tmp_path / "bad.npy")


def test_bad_inputs_are_named(raw, tmp_path):
    mat, splits, mapping = raw
    with pytest.raises(DataError, match="nope.mat does not exist"):
        prepare(tmp_path / "nope.mat", splits, mapping, tmp_path / "out")
    (tmp_path / "broken.mat").write_bytes(b"MATLAB 5.0 MAT-file, truncated")
    with pytest.raises(DataError, match="not an HDF5"):
        prepare(tmp_path / "broken.mat", splits, mapping, tmp_path / "out")
    from scipy.io import savemat

    savemat(
        tmp_path / "s.mat", {"trainNdxs": np.array([[1], [COUNT + 5]]), "testNdxs": np.array([[2]])}
    )
    with pytest.raises(DataError, match=f"train: image {COUNT + 5}"):
        prepare(mat, tmp_path / "s.mat", mapping, tmp_path / "out")
    with pytest.raises(DataError, match="data_prep/nyuv2.py"):
        load_dataset("nyuv2", "train")


def test_smoke_training_through_the_cli(prepared, tmp_path):
    from dglnb.cli import main

    assert (
        main(
            [
                "train",
                "--dataset",
                "nyuv2",
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
