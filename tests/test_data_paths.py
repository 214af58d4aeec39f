"""A run reads the same samples whichever way it is told to: from files, from arrays in memory or
memory-mapped; the official protocol trains on train and val; training frames are augmented, and
exactly again after a resume."""

import json

import pytest

from dglnb.config import TrainConfig
from dglnb.data.cremad import prepare
from dglnb.errors import ConfigError
from dglnb.train import resolve, train
from dglnb.train.splits import loaders
from fixtures.cremad import make_cremad

RESULTS = ("metrics.json", "history.csv")


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    raw = tmp_path_factory.mktemp("cremad_raw")
    make_cremad(raw, per_class=4)
    out = tmp_path_factory.mktemp("cremad_out")
    prepare(raw, out, val_share=0.25)
    return out


def run(prepared, out, **settings):
    config = TrainConfig(
        **{
            "dataset": "cremad",
            "method": "dgl",
            "profile": "smoke",
            "epochs": 2,
            "data_root": prepared,
            "threads": 1,
            "progress": False,
            "out": out,
            **settings,
        }
    )
    train(config)
    return {name: (out / name).read_text() for name in RESULTS}


def without_config(files):
    metrics = json.loads(files["metrics.json"])
    metrics["config"].pop("data_path")
    return {**files, "metrics.json": metrics}


@pytest.mark.parametrize("data_path", ["memory", "mapped"])
def test_arrays_train_the_same_run_as_files(prepared, tmp_path, data_path):
    files = run(prepared, tmp_path / "files", data_path="files")
    arrays = run(prepared, tmp_path / data_path, data_path=data_path)
    assert without_config(arrays) == without_config(files)


def test_arrays_of_a_dataset_that_is_not_prepared_audio_visual_are_refused(tmp_path):
    with pytest.raises(
        ConfigError, match="data_path 'memory' holds a prepared audio-visual dataset"
    ):
        train(
            TrainConfig(
                dataset="synthetic",
                method="vanilla",
                profile="smoke",
                data_path="memory",
                out=tmp_path,
            )
        )


@pytest.mark.parametrize("data_path", ["files", "memory"])
def test_the_official_protocol_trains_on_train_and_val_of_a_prepared_dataset(prepared, data_path):
    def sizes(protocol):
        config = resolve(
            TrainConfig(
                dataset="cremad",
                method="dgl",
                profile="smoke",
                data_root=prepared,
                protocol=protocol,
                data_path=data_path,
            )
        )
        found = loaders(config)[1]
        return {name: len(loader.dataset) for name, loader in found.items()}

    honest, official = sizes("honest"), sizes("official")
    assert official["train"] == honest["train"] + honest["val"] == official["train_eval"]
    assert official["test"] == honest["test"]


def test_augmented_training_differs_and_resumes_exactly(prepared, tmp_path):
    plain = run(prepared, tmp_path / "plain", augment=False)
    augmented = run(prepared, tmp_path / "augmented", augment=True)
    assert augmented["history.csv"] != plain["history.csv"]
    run(prepared, tmp_path / "resumed", augment=True, epochs=1)
    assert run(prepared, tmp_path / "resumed", augment=True, resume=True) == augmented


def test_augmenting_a_segmentation_model_is_refused(tmp_path):
    with pytest.raises(ConfigError, match="augment crops the input images only"):
        train(
            TrainConfig(
                dataset="rgbd_scenes", method="vanilla", profile="smoke", augment=True, out=tmp_path
            )
        )
