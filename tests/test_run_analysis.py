"""Reading finished runs back: the selected model, eq. 8 on its features, the gradient ratio."""

import pytest
import torch

from dglnb.analysis import dynamics, eq8, report
from dglnb.config import TrainConfig
from dglnb.data import load_dataset
from dglnb.train import load_trained, train


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("run")
    train(
        TrainConfig(dataset="synthetic", method="vanilla", profile="smoke", out=out, progress=False)
    )
    return out


def test_load_trained_gives_back_the_selected_model(run_dir):
    model, config = load_trained(run_dir)
    saved = torch.load(run_dir / "best.pt", weights_only=False)["model"]
    assert config.method == "vanilla" and config.dataset == "synthetic"
    assert all(torch.equal(v, saved[k]) for k, v in model.state_dict().items())
    batch = next(
        iter(
            torch.utils.data.DataLoader(
                load_dataset("synthetic", "test", profile="smoke"), batch_size=8
            )
        )
    )
    assert model(batch).shape == (8, 10)


def test_load_trained_says_what_to_do_without_a_finished_run(tmp_path):
    with pytest.raises(FileNotFoundError, match="no finished run"):
        load_trained(tmp_path)


def test_eq8_on_run_reports_fractions_per_encoder(run_dir):
    result = eq8.eq8_on_run(run_dir)
    assert set(result) == {"easy", "hard"}
    for fractions in result.values():
        assert all(0.0 <= v <= 1.0 for v in fractions.values())


def test_gradient_ratio_by_epoch_reads_the_diagnostics_log(run_dir):
    table = dynamics.gradient_ratio_by_epoch([run_dir], epochs=[0])
    assert list(table.index) == ["easy", "hard"] and list(table.columns) == ["epoch 0"]


def test_mean_std_formats_each_group():
    rows = [{"g": "a", "x": 1.0}, {"g": "a", "x": 3.0}, {"g": "b", "x": 2.0}]
    assert report.mean_std_table(rows, by="g", digits=1)["x"].tolist() == ["2.0 ± 1.0", "2.0 ± 0.0"]
