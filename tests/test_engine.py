"""The training loop: deterministic, resumable bit for bit, unperturbed by diagnostics, honest selection."""

import csv
import dataclasses
import random
from pathlib import Path

import numpy as np
import pytest
import torch

from dglnb.config import TrainConfig
from dglnb.methods import METHODS
from dglnb.train import load_trained, splits, train
from dglnb.train.evaluation import evaluate
from dglnb.train.loaders import make_loader, start_epoch


def smoke(out: Path, **overrides) -> TrainConfig:
    """A few-second synthetic run: smoke widths, 3 epochs of 3 steps."""
    values = dict(
        dataset="synthetic", method="dgl", profile="smoke", out=out, epochs=3, progress=False
    )
    return TrainConfig(**{**values, **overrides})


def final_params(out: Path) -> dict[str, torch.Tensor]:
    return torch.load(out / "last.pt", weights_only=False)["model"]


def history(out: Path) -> list[dict[str, str]]:
    with (out / "history.csv").open(newline="") as f:
        return list(csv.DictReader(f))


def without_config(metrics: dict) -> dict:
    return {k: v for k, v in metrics.items() if k != "config"}


def assert_same_params(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> None:
    assert a.keys() == b.keys()
    assert all(torch.equal(a[k], b[k]) for k in a), "parameters differ"


def test_history_has_one_row_per_epoch_with_the_documented_columns(tmp_path):
    train(smoke(tmp_path))
    rows = history(tmp_path)
    assert [int(r["epoch"]) for r in rows] == [0, 1, 2]
    for column in ("lr", "train_loss_multi", "val_multimodal", "val_easy"):
        assert column in rows[0]
    assert not any(
        column.startswith("test_") for column in rows[0]
    )  # test scores the selected model only
    with (tmp_path / "timing.csv").open(newline="") as f:
        assert [list(r) for r in csv.DictReader(f)] == [["epoch", "seconds"]] * 3


def test_the_official_protocol_scores_test_every_epoch_to_select_on_it(tmp_path):
    train(dataclasses.replace(smoke(tmp_path), protocol="official"))
    assert {"test_multimodal", "test_hard"} <= set(history(tmp_path)[0])


def test_the_selected_model_s_test_score_is_the_one_it_scores_after_training(tmp_path):
    metrics = train(smoke(tmp_path))
    model, config = load_trained(tmp_path)
    info, loaders = splits.loaders(config)
    rescored = evaluate(model, METHODS.get(config.method)(), loaders["test"], torch.device("cpu"))
    assert metrics["test_score"] == {head: rescored.get(head) for head in metrics["test_score"]}


def test_same_seed_gives_identical_metrics_and_parameters(tmp_path):
    first, second = train(smoke(tmp_path / "a")), train(smoke(tmp_path / "b"))
    assert without_config(first) == without_config(second)
    assert_same_params(final_params(tmp_path / "a"), final_params(tmp_path / "b"))


def test_another_seed_gives_other_parameters(tmp_path):
    train(smoke(tmp_path / "a"))
    train(smoke(tmp_path / "b", seed=1))
    assert not torch.equal(
        final_params(tmp_path / "a")["fusion.head.weight"],
        final_params(tmp_path / "b")["fusion.head.weight"],
    )


def test_resuming_after_k_epochs_equals_the_uninterrupted_run_bitwise(tmp_path):
    full = train(smoke(tmp_path / "full"))
    train(smoke(tmp_path / "cut", epochs=2))
    resumed = train(smoke(tmp_path / "cut", resume=True))
    assert_same_params(final_params(tmp_path / "full"), final_params(tmp_path / "cut"))
    for key in ("test_score", "val_score", "linear_probe", "best_epoch"):
        assert resumed[key] == full[key]
    assert history(tmp_path / "cut") == history(tmp_path / "full")


def test_checkpoint_holds_the_full_training_state_and_no_temporary_file_is_left(tmp_path):
    train(smoke(tmp_path, epochs=1))
    state = torch.load(tmp_path / "last.pt", weights_only=False)
    assert {"model", "optimizer", "scheduler", "method", "rng", "epoch", "step", "best"} <= set(
        state
    )
    assert state["epoch"] == 0 and state["best"]["epoch"] == 0
    assert not list(tmp_path.glob("*.tmp"))


def test_diagnostics_do_not_perturb_training(tmp_path):
    train(smoke(tmp_path / "with", diag_every=1))
    train(smoke(tmp_path / "without", diag_every=0))
    assert_same_params(final_params(tmp_path / "with"), final_params(tmp_path / "without"))
    assert (tmp_path / "with" / "diagnostics.csv").exists()
    assert not (tmp_path / "without" / "diagnostics.csv").exists()


def test_the_official_protocol_trains_on_train_and_val_and_selects_on_test(tmp_path):
    from dglnb.data import load_dataset
    from dglnb.train.run import resolve
    from dglnb.train.splits import loaders as _loaders

    honest, official = (resolve(smoke(tmp_path / p, protocol=p)) for p in ("honest", "official"))
    assert (honest.selection, official.selection) == ("val", "test")
    split = {s: len(load_dataset("synthetic", s, profile="smoke")) for s in ("train", "val")}
    assert len(_loaders(honest)[1]["train"].dataset) == split["train"]
    loaders = _loaders(official)[1]
    assert len(loaders["train"].dataset) == split["train"] + split["val"]
    assert loaders["train_eval"].dataset.datasets[0] is not loaders["train"].dataset.datasets[0]
    metrics = train(smoke(tmp_path / "run", protocol="official", epochs=2, max_steps=2))
    assert (metrics["protocol"], metrics["selection"]) == ("official", "test")


def test_selection_on_test_reports_the_best_test_epoch_and_on_val_the_best_val_epoch(tmp_path):
    """Same trajectory; "test" picks the epoch with the highest test accuracy (the official code's
    optimistic protocol), "val" the highest validation accuracy, so test-selected >= val-selected."""
    kw = dict(epochs=4, max_steps=4, method="vanilla")
    by_val = train(smoke(tmp_path / "val", **kw))
    by_test = train(smoke(tmp_path / "test", selection="test", **kw))
    rows, test_rows = history(tmp_path / "val"), history(tmp_path / "test")
    assert [r["val_multimodal"] for r in rows] == [
        r["val_multimodal"] for r in test_rows
    ]  # one trajectory
    best_val = max(range(len(rows)), key=lambda e: (float(rows[e]["val_multimodal"]), -e))
    best_test = max(range(len(rows)), key=lambda e: (float(test_rows[e]["test_multimodal"]), -e))
    assert by_val["best_epoch"] == best_val and by_test["best_epoch"] == best_test
    assert by_test["test_score"]["multimodal"] == float(test_rows[best_test]["test_multimodal"])
    assert by_test["test_score"]["multimodal"] >= by_val["test_score"]["multimodal"]


def test_learning_rate_is_multiplied_by_gamma_after_each_milestone_epoch(tmp_path):
    train(smoke(tmp_path, milestones=(1, 2), gamma=0.1, lr=0.5))
    assert [float(r["lr"]) for r in history(tmp_path)] == pytest.approx([0.5, 0.05, 0.005])


class GlobalDraws(torch.utils.data.Dataset):
    """An augmentation that draws from the global generators, as torchvision's transforms do."""

    def __len__(self) -> int:
        return 8

    def __getitem__(self, index: int) -> dict:
        return {"index": index, "draw": torch.rand(()).item() + np.random.rand() + random.random()}


def worker_draws(epoch: int, seed: int = 0) -> list[float]:
    """The draws of one epoch in two workers (batch size 1: even positions worker 0, odd worker 1)."""
    loader = make_loader(GlobalDraws(), 1, shuffle=True, seed=seed, num_workers=2)
    start_epoch(loader, seed, epoch)
    return [float(b["draw"]) for b in loader]


def test_each_worker_draws_from_generators_seeded_by_run_seed_epoch_and_worker():
    first = worker_draws(0)
    assert first[0] != first[1]  # the two workers' first draws
    assert worker_draws(1)[0] != first[0]  # worker 0 in another epoch
    assert worker_draws(0, seed=1)[0] != first[0]  # another run
    assert worker_draws(0) == first  # and again on a rerun (a resume repeats the epoch)
