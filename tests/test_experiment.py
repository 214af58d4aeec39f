"""The run folder the notebooks and the CLI rely on: metrics.json, history.csv, diagnostics.csv."""

import dataclasses
import json
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from dglnb.cli import main
from dglnb.config import TrainConfig
from dglnb.methods import METHODS
from dglnb.registry import UnknownNameError
from dglnb.train import resolve, summarize, train, train_seeds


def smoke(out: Path, **overrides) -> TrainConfig:
    return TrainConfig(
        **{
            **dict(dataset="synthetic", method="dgl", profile="smoke", out=out, progress=False),
            **overrides,
        }
    )


def test_metrics_json_schema_and_ranges(tmp_path):
    train(smoke(tmp_path))
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert {"test_score", "val_score", "linear_probe", "best_epoch", "selection", "config"} <= set(
        metrics
    )
    assert list(metrics["test_score"]) == ["multimodal", "easy", "hard"]
    assert list(metrics["linear_probe"]) == ["easy", "hard"]
    for group in ("test_score", "val_score", "linear_probe"):
        assert all(0.0 <= v <= 1.0 for v in metrics[group].values())
    assert metrics["best_epoch"] == 0 and metrics["selection"] == "val"
    assert metrics["config"]["lr"] == 0.04 and metrics["config"]["method"] == "dgl"


def test_unimodal_has_no_multimodal_accuracy(tmp_path):
    metrics = train(smoke(tmp_path, method="unimodal"))
    assert metrics["test_score"]["multimodal"] is None
    assert all(0.0 <= metrics["test_score"][m] <= 1.0 for m in ("easy", "hard"))


def test_three_modalities_train(tmp_path):
    metrics = train(smoke(tmp_path, dataset="synthetic3", method="vanilla"))
    assert list(metrics["test_score"]) == ["multimodal", "easy", "hard", "faint"]


def test_explicit_hyperparameters_override_the_profile(tmp_path):
    config = resolve(smoke(tmp_path, lr=0.5, batch_size=4))
    assert (config.lr, config.batch_size, config.epochs) == (0.5, 4, 1)


@pytest.mark.parametrize(
    "field, name, listing",
    [
        (
            "dataset",
            "imagenet",
            "valid datasets: av_folder, avdigits, avdigits_small, cremad, kinetics_sounds",
        ),
        ("method", "sgd", "valid methods: agm, dgl"),
        ("fusion", "attention", "valid fusions: concat"),
        ("profile", "fast", "valid profiles: smoke, quick, full"),
    ],
)
def test_unknown_names_raise_an_error_listing_the_valid_ones(tmp_path, field, name, listing):
    with pytest.raises(UnknownNameError, match=listing):
        train(smoke(tmp_path, **{field: name}))


def test_cli_reports_an_unknown_method_in_one_line_with_status_2(tmp_path):
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "dglnb.cli",
            "train",
            "--dataset",
            "synthetic",
            "--method",
            "sgd",
            "--out",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "dglnb: error: unknown method 'sgd'; valid methods: " + ", ".join(METHODS.names())
    ]


def test_cli_trains_dgl_on_synthetic_in_the_smoke_profile(tmp_path, capsys):
    assert (
        main(
            [
                "train",
                "--dataset",
                "synthetic",
                "--method",
                "dgl",
                "--profile",
                "smoke",
                "--out",
                str(tmp_path),
                "--no-progress",
            ]
        )
        == 0
    )
    for name in ("metrics.json", "history.csv", "diagnostics.csv", "last.pt", "best.pt"):
        assert (tmp_path / name).is_file()
    assert "test accuracy" in capsys.readouterr().out


def test_several_seeds_give_mean_and_std_per_metric(tmp_path):
    result = train_seeds(smoke(tmp_path), seeds=[0, 1])
    assert [r["config"]["seed"] for r in result["runs"]] == [0, 1]
    assert (tmp_path / "seed1" / "metrics.json").is_file()
    entry = result["summary"]["test_score.multimodal"]
    assert entry["n"] == 2 and 0 <= entry["mean"] <= 1 and entry["std"] >= 0


def test_summary_skips_missing_heads():
    runs = [
        {"test_score": {"multimodal": None, "a": a}, "val_score": {}, "linear_probe": {}}
        for a in (0.5, 0.7)
    ]
    summary = summarize(runs)
    assert "test_score.multimodal" not in summary
    assert summary["test_score.a"]["mean"] == pytest.approx(0.6)
    assert summary["test_score.a"]["std"] == pytest.approx(0.1414213562)


def test_alpha_keys_the_runs_of_the_methods_that_take_it_only():
    """An alpha sweep of a method that ignores alpha is one run; DGL's alphas are different runs."""
    from dglnb.train.cache import run_key

    def key(method, alpha):
        return run_key(
            TrainConfig(dataset="synthetic", method=method, profile="smoke", alpha=alpha)
        )

    assert key("ogm_ge", 1.0) == key("ogm_ge", 4.0) == key("ogm_ge", None)
    assert resolve(TrainConfig(dataset="synthetic", method="ogm_ge", alpha=1.0)).alpha is None
    for method in ("dgl", "dgl_mt", "dgl_ut", "joint_aux", "vanilla_lr"):
        assert key(method, 1.0) != key(method, 4.0)
    assert key("dgl", None) == key("dgl", 4.0)  # the profile's alpha


def test_run_cache_trains_once_and_a_changed_setting_makes_a_new_run(tmp_path, monkeypatch):
    from dglnb.train import cache as experiment

    monkeypatch.setattr(experiment, "runs_dir", lambda profile, name: tmp_path / profile / name)
    config = experiment.TrainConfig(
        dataset="synthetic", method="vanilla", profile="smoke", progress=False
    )
    first = experiment.train_seeds(config, [0, 1])
    assert [d.parent for d in first["dirs"]] == [tmp_path / "smoke" / "cache"] * 2
    stamps = [(d / "metrics.json").stat().st_mtime_ns for d in first["dirs"]]
    again = experiment.train_seeds(config, [0, 1])
    assert again["runs"] == first["runs"]
    assert [
        (d / "metrics.json").stat().st_mtime_ns for d in again["dirs"]
    ] == stamps  # read, not retrained
    changed = experiment.train_seeds(dataclasses.replace(config, lr=0.01), [0])
    assert changed["dirs"][0] not in first["dirs"] and changed["runs"][0]["config"]["lr"] == 0.01


def test_a_run_scored_before_final_scoring_changed_is_trained_again_not_read(tmp_path, monkeypatch):
    from dglnb.train import cache, evaluation

    monkeypatch.setattr(cache, "runs_dir", lambda profile, name: tmp_path / profile / name)
    config = TrainConfig(dataset="synthetic", method="vanilla", profile="smoke", progress=False)
    cache.train_cached(config)
    scored_before = cache.cached_run_dir(config)
    monkeypatch.setattr(evaluation, "SCORING", evaluation.SCORING + 1)
    cache.train_cached(config)
    scored_now = cache.cached_run_dir(config)
    assert scored_now != scored_before
    assert (scored_now / "metrics.json").is_file() and (scored_before / "metrics.json").is_file()


def test_a_run_folder_written_before_the_score_was_renamed_is_read_under_todays_names(
    tmp_path, monkeypatch
):
    """metrics.json once called the primary score test_accuracy / val_accuracy (mIoU for segmentation):
    such a cached run is read as test_score / val_score, values untouched, and not trained again."""
    from dglnb.train import cache

    monkeypatch.setattr(cache, "runs_dir", lambda profile, name: tmp_path / profile / name)
    config = TrainConfig(dataset="synthetic", method="vanilla", profile="smoke", progress=False)
    today = cache.train_cached(config)
    folder = cache.cached_run_dir(config)
    old = {
        {"test_score": "test_accuracy", "val_score": "val_accuracy"}.get(k, k): v
        for k, v in today.items()
    }
    (folder / "metrics.json").write_text(json.dumps(old))
    stamp = (folder / "last.pt").stat().st_mtime_ns
    again = cache.train_cached(config)
    assert again == today and "test_accuracy" not in again
    assert (folder / "last.pt").stat().st_mtime_ns == stamp  # read, not retrained
    assert (
        cache.summarize([again])["test_score.multimodal"]["mean"]
        == today["test_score"]["multimodal"]
    )


def test_a_run_another_process_is_training_is_left_to_the_end_then_read(tmp_path, monkeypatch):
    from dglnb.train import cache

    monkeypatch.setattr(cache, "runs_dir", lambda profile, name: tmp_path / profile / name)
    config = TrainConfig(dataset="synthetic", method="vanilla", profile="smoke", progress=False)
    trained, others_done = [], threading.Event()
    train = cache.train
    monkeypatch.setattr(
        cache, "train", lambda c: trained.append(c.seed) or others_done.set() or train(c)
    )

    def another_process_training_seed_0():
        with cache.run_lock(cache.cached_run_dir(dataclasses.replace(config, seed=0))):
            holding.set()
            others_done.wait(timeout=60)

    holding = threading.Event()
    holder = threading.Thread(target=another_process_training_seed_0)
    holder.start()
    holding.wait(timeout=60)
    runs = cache.train_seeds(config, [0, 1])["runs"]
    holder.join()
    assert trained == [1, 0]  # seed 1 while seed 0 was held, then seed 0 once released
    assert [r["config"]["seed"] for r in runs] == [0, 1]
