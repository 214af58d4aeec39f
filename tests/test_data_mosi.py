"""MOSI from MulT's and MMSA's pickles: shapes, binary labels, zero handling, bad files."""

import pickle
import re

import pytest
import torch

from dglnb.data import load_dataset
from dglnb.data.check import check_dataset
from dglnb.data.errors import DataError
from fixtures.mosi import SIZES, make_mosi
from fixtures.untrusted import SHELL_CALL, RunsAShellCommand


@pytest.mark.parametrize("mmsa,text_dim", [(False, 300), (True, 768)])
def test_both_pickle_formats_load_as_three_sequences(tmp_path, mmsa, text_dim):
    make_mosi(tmp_path, mmsa=mmsa)
    data = load_dataset("mosi", "train", data_root=tmp_path)
    assert data.info.modalities == ("audio", "visual", "text") and data.info.num_classes == 2
    assert data.info.shapes == {"audio": (50, 5), "visual": (50, 20), "text": (50, text_dim)}
    item = data[0]
    assert item["text"].shape == (50, text_dim) and item["audio"].dtype == torch.float32
    assert torch.isfinite(item["audio"]).all()
    assert data.format == ("mmsa" if mmsa else "mult") and item["id"].startswith("vid")


def test_neutral_samples_are_excluded_by_default_and_positive_with_zero(tmp_path):
    make_mosi(tmp_path)
    default, with_zero = (
        load_dataset(n, "test", data_root=tmp_path) for n in ("mosi", "mosi_with_zero")
    )
    assert len(with_zero) == SIZES["test"] and len(default) < len(with_zero)
    assert all(s != 0 for s in default.scores)
    for data in (default, with_zero):
        for i in range(len(data)):
            item = data[i]
            score = float(item["visual"][0, 0])  # the fixture stores the score in this cell
            assert item["label"] == int(score >= 0) and score == data.scores[i]


def test_check_summarises_every_split(tmp_path):
    make_mosi(tmp_path, mmsa=True)
    summary = check_dataset("mosi", tmp_path / "aligned_50.pkl")
    assert "train" in summary and "valid" not in summary and "mmsa" in summary


def test_bad_pickles_say_what_is_wrong(tmp_path):
    with pytest.raises(DataError, match="mosi_data.pkl or aligned_50.pkl"):
        load_dataset("mosi", "train", data_root=tmp_path)
    (tmp_path / "mosi_data.pkl").write_bytes(b"truncated")
    with pytest.raises(DataError, match="not a readable pickle"):
        load_dataset("mosi", "train", data_root=tmp_path)
    path = make_mosi(tmp_path)
    data = pickle.loads(path.read_bytes())
    del data["valid"]["vision"]
    data["test"]["audio"] = data["test"]["audio"][:3]
    path.write_bytes(pickle.dumps(data))
    with pytest.raises(DataError, match=r"lacks \['vision'\]"):
        load_dataset("mosi", "val", data_root=tmp_path)
    with pytest.raises(DataError, match="disagree on the number of samples"):
        load_dataset("mosi", "test", data_root=tmp_path)


def test_smoke_training_through_the_cli(tmp_path):
    from dglnb.cli import main

    make_mosi(tmp_path / "mosi")
    assert (
        main(
            [
                "train",
                "--dataset",
                "mosi",
                "--data-root",
                str(tmp_path / "mosi"),
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


def test_a_pickle_that_would_run_code_is_refused_naming_what_it_calls(tmp_path):
    marker = tmp_path / "code-ran"
    path = make_mosi(tmp_path / "mosi")
    data = pickle.loads(path.read_bytes())
    data["train"]["audio"] = RunsAShellCommand(marker)
    path.write_bytes(pickle.dumps(data))
    refused = rf"refused: it names {re.escape(SHELL_CALL)}, and a MOSI feature pickle holds NumPy"
    with pytest.raises(DataError, match=refused):
        load_dataset("mosi", "train", data_root=tmp_path / "mosi")
    assert not marker.exists()
    pickle.loads(path.read_bytes())  # the file is a real threat: a plain unpickler runs the command
    assert marker.exists()


@pytest.mark.parametrize("protocol", [2, 3, 4, 5])
@pytest.mark.parametrize("mmsa", [False, True])
def test_both_formats_load_whatever_pickle_protocol_wrote_them(tmp_path, mmsa, protocol):
    """Protocol 2 (Python 2 compatible) stores the arrays' bytes through _codecs.encode, 5 through
    NumPy's _frombuffer; the ids are a str array (MulT) or a list of str (MMSA); MMSA adds raw text."""
    path = make_mosi(tmp_path / "default", mmsa=mmsa)
    (tmp_path / "old").mkdir()
    data = pickle.loads(path.read_bytes())
    (tmp_path / "old" / path.name).write_bytes(pickle.dumps(data, protocol=protocol))
    default, old = (
        load_dataset("mosi", "train", data_root=tmp_path / folder) for folder in ("default", "old")
    )
    assert old.ids == default.ids and old.labels.tolist() == default.labels.tolist()
    assert all(torch.equal(old.features[m], default.features[m]) for m in default.features)
