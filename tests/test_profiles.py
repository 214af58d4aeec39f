import pytest

from dglnb.profiles import check_profile, settings
from dglnb.registry import UnknownNameError


def test_unknown_profile_lists_the_valid_ones():
    with pytest.raises(UnknownNameError, match="unknown profile 'fast'; valid profiles: smoke, quick, full"):
        check_profile("fast")


def test_settings_are_copies():
    first = settings("gradient_suppression", "quick")
    first["n_random"] = -1
    assert settings("gradient_suppression", "quick")["n_random"] != -1


def test_unknown_experiment_lists_the_valid_ones():
    with pytest.raises(UnknownNameError, match="valid experiments: "):
        settings("nope", "quick")
