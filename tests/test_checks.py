"""Regression goldens and claims: judged against the seed spread, recorded by `make golden`."""

import json

import pytest

from dglnb.analysis import checks


def stats(mean, std, n=3):
    return {"mean": mean, "std": std, "n": n}


@pytest.fixture
def goldens(tmp_path, monkeypatch):
    monkeypatch.setattr(checks, "goldens_path", lambda name: tmp_path / f"{name}.json")
    return tmp_path


def test_tolerance_is_three_standard_errors_of_the_difference_with_a_floored_std():
    assert checks.tolerance(stats(0.9, 0.03), stats(0.9, 0.04)) == pytest.approx(
        3 * ((0.03**2 + 0.04**2) / 3) ** 0.5
    )
    floored = checks.tolerance(stats(0.9, 0.0), stats(0.9, 0.0))
    assert floored == pytest.approx(3 * (2 * checks.STD_FLOOR**2 / 3) ** 0.5)


def test_regression_records_under_make_golden_then_accepts_a_run_within_tolerance(
    goldens, monkeypatch
):
    monkeypatch.setenv(checks.RECORD, "1")
    checks.regression("quick", "nb", {"vanilla": {"test_score.multimodal": stats(0.90, 0.01)}})
    recorded = json.loads((goldens / "nb.json").read_text())
    assert recorded == {"vanilla": {"test_score.multimodal": stats(0.90, 0.01)}}
    monkeypatch.delenv(checks.RECORD)
    checks.regression("quick", "nb", {"vanilla": {"test_score.multimodal": stats(0.91, 0.012)}})


def test_regression_fails_beyond_tolerance_and_names_the_metric(goldens):
    (goldens / "nb.json").write_text(json.dumps({"dgl": {"test_score.audio": stats(0.80, 0.01)}}))
    with pytest.raises(AssertionError, match="dgl test_score.audio: 0.7000"):
        checks.regression("quick", "nb", {"dgl": {"test_score.audio": stats(0.70, 0.01)}})


def test_regression_fails_on_a_metric_the_run_no_longer_has_and_without_goldens(goldens):
    (goldens / "nb.json").write_text(json.dumps({"dgl": {"test_score.audio": stats(0.80, 0.01)}}))
    with pytest.raises(AssertionError, match="missing from this run"):
        checks.regression("quick", "nb", {"dgl": {}})
    with pytest.raises(AssertionError, match="make golden"):
        checks.regression("quick", "other", {"dgl": {}})


def test_a_row_whose_seeds_happened_to_agree_takes_the_chapters_largest_spread(goldens):
    golden = {"vanilla": {"acc": stats(0.60, 0.05)}, "dgl": {"acc": stats(0.90, 0.005)}}
    (goldens / "nb.json").write_text(json.dumps(golden))
    checks.regression(
        "quick", "nb", {"vanilla": {"acc": stats(0.60, 0.05)}, "dgl": {"acc": stats(0.84, 0.005)}}
    )
    with pytest.raises(
        AssertionError, match="dgl acc: 0.7500"
    ):  # beyond 3 * sqrt(2 * 0.05**2 / 3) = 0.122
        checks.regression(
            "quick",
            "nb",
            {"vanilla": {"acc": stats(0.60, 0.05)}, "dgl": {"acc": stats(0.75, 0.005)}},
        )


def test_every_metric_of_a_one_seed_row_is_checked(goldens):
    golden = {
        "concat": {"acc": stats(0.90, 0.01), "audio": stats(0.60, 0.01)},
        "pmr": {"acc": stats(0.95, 0.0, n=1), "audio": stats(0.70, 0.0, n=1)},
    }
    (goldens / "nb.json").write_text(json.dumps(golden))
    now = {
        "concat": golden["concat"],
        "pmr": {"acc": stats(0.95, 0.0, n=1), "audio": stats(0.40, 0.0, n=1)},
    }
    with pytest.raises(AssertionError, match="pmr audio"):
        checks.regression("quick", "nb", now)


def test_a_metric_that_only_single_runs_measured_has_no_spread_and_is_checked_at_the_floor(goldens):
    rows = {"vanilla": {"acc": stats(0.90, 0.0, n=1)}, "dgl": {"acc": stats(0.95, 0.0, n=1)}}
    assert checks.largest_spread(rows) == {"acc": 0.0}
    assert checks.with_seed_spread(rows) == rows
    assert checks.largest_spread({**rows, "agm": {"acc": stats(0.92, 0.03, n=2)}}) == {"acc": 0.03}
    (goldens / "nb.json").write_text(json.dumps(rows))
    floor = 3 * (2 * checks.STD_FLOOR**2) ** 0.5  # both sides one run at the floored std
    within, beyond = stats(0.95 - 0.9 * floor, 0.0, n=1), stats(0.95 - 1.1 * floor, 0.0, n=1)
    checks.regression("quick", "nb", {**rows, "dgl": {"acc": within}})
    with pytest.raises(AssertionError, match="dgl acc"):
        checks.regression("quick", "nb", {**rows, "dgl": {"acc": beyond}})


def test_regression_checks_only_the_quick_profile(goldens):
    checks.regression(
        "full", "nb", {"dgl": {"test_score.audio": stats(0.1, 0.0)}}
    )  # no goldens needed


def test_claim_holds_only_beyond_sigmas_standard_errors_of_the_difference():
    better = {"acc": stats(0.95, 0.006)}
    worse = {"acc": stats(0.93, 0.008)}
    c = checks.claim("DGL above vanilla", better, worse, "acc", sigmas=2)
    assert c.gap == pytest.approx(0.02) and c.spread == pytest.approx(
        ((0.006**2 + 0.008**2) / 3) ** 0.5
    )
    assert c.holds and c.verdict == "reproduced"
    assert not checks.claim("x", better, worse, "acc", sigmas=4).holds  # 0.02 < 4 * 0.00577
    assert checks.claim("x", worse, better, "acc").verdict == "not reproduced"


def test_a_single_run_takes_the_largest_seed_spread_measured_for_its_metric(goldens):
    (goldens / "nb.json").write_text(
        json.dumps(
            {
                "vanilla": {"acc": stats(0.90, 0.05)},
                "dgl": {"acc": stats(0.95, 0.01)},
                "dgl alpha=1": {"acc": stats(0.90, 0.0, 1)},
            }
        )
    )
    now = {"vanilla": {"acc": stats(0.90, 0.05)}, "dgl": {"acc": stats(0.95, 0.01)}}
    checks.regression(
        "quick", "nb", {**now, "dgl alpha=1": {"acc": stats(0.80, 0.0, 1)}}
    )  # within 3 * sqrt(2) * 0.05
    with pytest.raises(AssertionError, match="dgl alpha=1 acc"):
        checks.regression("quick", "nb", {**now, "dgl alpha=1": {"acc": stats(0.60, 0.0, 1)}})


def test_require_asserts_in_quick_and_only_reports_in_full():
    failing = checks.claim(
        "DGL above vanilla", {"acc": stats(0.9, 0.01)}, {"acc": stats(0.9, 0.01)}, "acc"
    )
    with pytest.raises(AssertionError, match="DGL above vanilla"):
        checks.require([failing], "quick")
    checks.require([failing], "full")


def test_a_one_seed_row_takes_the_largest_seed_spread_of_its_metric_before_a_claim():
    rows = {
        "dgl": {"acc": {"mean": 0.90, "std": 0.02, "n": 3}},
        "vanilla": {"acc": {"mean": 0.85, "std": 0.04, "n": 3}},
        "agm": {"acc": {"mean": 0.87, "std": 0.0, "n": 1}},
    }
    spread = checks.with_seed_spread(rows)
    assert spread["agm"]["acc"] == {"mean": 0.87, "std": 0.04, "n": 1}
    assert spread["dgl"] == rows["dgl"]
    # 3 points against a standard error of sqrt(0.02^2/3 + 0.04^2) = 4.2 points: not beyond 2 of them
    assert not checks.claim("dgl beats agm", spread["dgl"], spread["agm"], "acc").holds
    assert checks.claim(
        "dgl beats agm", rows["dgl"], rows["agm"], "acc"
    ).holds  # what ignoring agm's noise would say
