"""Profiles: every dataset trains in every profile, and the full profile is the official setting."""

import dataclasses

import pytest

from dglnb.config.chapters import SETTINGS
from dglnb.config.profiles import (
    PROFILES,
    TRAIN_DEFAULTS,
    TRAINING,
    check_profile,
    settings,
    training_settings,
)
from dglnb.data import DATASETS
from dglnb.registry import UnknownNameError


def test_the_notebook_settings_are_kept():
    assert settings("gradient_suppression", "quick").n_classes == 10


@pytest.mark.parametrize("dataset", DATASETS.names())
@pytest.mark.parametrize("profile", list(PROFILES))
def test_every_dataset_has_complete_settings_in_every_profile(dataset, profile):
    values = training_settings(dataset, profile)
    assert set(values) == set(TRAIN_DEFAULTS)
    assert values["lr"] > 0 and values["batch_size"] > 0 and values["epochs"] > 0


def test_smoke_is_one_short_epoch():
    for dataset in TRAINING:
        values = training_settings(dataset, "smoke")
        assert values["epochs"] == 1 and values["max_steps"] <= 5


def test_quick_synthetic_follows_the_measured_recipe():
    values = training_settings("synthetic", "quick")
    assert (
        values["lr"],
        values["batch_size"],
        values["epochs"],
        values["hidden"],
        values["alpha"],
    ) == (0.04, 64, 50, 128, 4.0)
    assert (values["momentum"], values["weight_decay"]) == (0.9, 1e-4)


def test_full_cremad_is_the_official_setting():
    values = training_settings("cremad", "full")
    assert values["lr"] == 2e-3 and values["batch_size"] == 64 and values["epochs"] == 100
    assert tuple(values["milestones"]) == (70,) and values["gamma"] == 0.1
    assert values["alpha"] == 4.0 and values["width"] == 64 and values["grad_clip"] == 40.0


def test_unknown_names_list_the_valid_ones():
    with pytest.raises(UnknownNameError, match="valid profiles: smoke, quick, full"):
        training_settings("synthetic", "fast")
    with pytest.raises(UnknownNameError, match="synthetic"):
        training_settings("imagenet", "quick")


def test_unknown_profile_lists_the_valid_ones():
    with pytest.raises(
        UnknownNameError, match="unknown profile 'fast'; valid profiles: smoke, quick, full"
    ):
        check_profile("fast")


def test_settings_are_typed_per_experiment_and_copies():
    first = settings("comparison", "quick")
    with pytest.raises(dataclasses.FrozenInstanceError):
        first.seeds = (7,)
    first.method_options["dnr"]["reinit_epoch"] = -1
    assert settings("comparison", "quick").method_options["dnr"]["reinit_epoch"] == 3


@pytest.mark.parametrize("experiment", sorted(SETTINGS))
def test_every_experiment_has_settings_of_one_type_in_every_profile(experiment):
    kinds = {type(settings(experiment, profile)) for profile in PROFILES}
    assert len(kinds) == 1 and dataclasses.is_dataclass(kinds.pop())
    assert all(settings(experiment, profile).seeds for profile in PROFILES)


def test_unknown_experiment_lists_the_valid_ones():
    with pytest.raises(UnknownNameError, match="valid experiments: "):
        settings("nope", "quick")


def test_the_quick_comparison_shares_the_chapters_seeds_and_its_dnr_reinitialises_within_the_run():
    from dglnb import TrainConfig
    from dglnb.train.run import build_method, resolve

    quick = settings("comparison", "quick")
    assert (
        set(quick.method_seeds)
        <= set(quick.seeds)
        <= set(settings("gradient_detaching", "quick").seeds)
    )
    dataset = quick.datasets[0]
    methods = {
        m: build_method(
            resolve(TrainConfig(dataset=dataset, method=m, profile="quick", method_options=options))
        )
        for m, options in quick.method_options.items()
    }  # each option is one its method takes
    assert (
        methods["dnr"].reinit_epoch * methods["dnr"].reinit_num
        < training_settings(dataset, "quick")["epochs"]
    )
    assert (
        settings("comparison", "full").method_options == {}
    )  # the full profile: published defaults only


@pytest.mark.parametrize("profile", PROFILES)
def test_the_dense_fusion_rows_are_table_2_left_rows_whose_options_their_methods_take(profile):
    from dglnb import TrainConfig, paper
    from dglnb.train.run import build_method, resolve

    chapter = settings("dense_fusion", profile)
    assert {"vanilla", "dgl"} <= set(chapter.methods) <= set(paper.TABLE2_MMTM_CREMAD)
    for method, options in chapter.method_options.items():
        assert method in chapter.methods
        build_method(
            resolve(
                TrainConfig(
                    dataset=chapter.dataset,
                    method=method,
                    fusion="mmtm",
                    profile=profile,
                    method_options=options,
                )
            )
        )
