"""eq. 3-8 of §3.1 against autograd, and the conditions under which eq. 8 holds."""

import pytest
import torch

from dglnb import theory

TOL = 1e-12


@pytest.fixture(params=["random", "m2_right", "m2_wrong"])
def problem(request):
    return theory.random_problem(500, n_classes=7, dims=(12, 9), seed=3, regime=request.param)


def test_exact_gradients_match_autograd(problem):
    errors = theory.formula_errors(*problem)
    assert errors["eq3 exact multimodal gradient"] < TOL
    assert errors["eq7 exact unimodal gradient"] < TOL


def test_true_class_probability_written_through_s_is_the_softmax(problem):
    assert theory.formula_errors(*problem)["p_y through s (eq. 4 corrected)"] < TOL


def test_corrected_eq4_and_eq7_are_the_true_class_paths(problem):
    errors = theory.formula_errors(*problem)
    assert errors["eq4 corrected, true-class path"] < TOL
    assert errors["eq7 as printed, true-class path"] < TOL


def test_eq4_as_printed_is_not_the_gradient_for_any_k():
    head, z1, z2, y = theory.random_problem(500, 7, (12, 9), seed=3)
    assert theory.formula_errors(head, z1, z2, y)["eq4 as printed, best k"] > 1e-2


def test_eq4_as_printed_at_k_equal_y_is_eq7():
    head, z1, z2, y = theory.random_problem(50, 5, (6, 4), seed=0)
    printed = theory.eq4_as_printed(head, z1, z2, y)
    at_y = printed[torch.arange(len(y)), y]
    torch.testing.assert_close(at_y, theory.eq7_as_printed(head, z1, y), rtol=0, atol=TOL)


def test_s_is_one_at_the_true_class_and_below_one_when_m2_is_confidently_right():
    head, _, z2, y = theory.random_problem(400, 6, (8, 16), seed=1, regime="m2_right")
    s = theory.s_factors(head, z2, y)
    torch.testing.assert_close(s.gather(1, y[:, None]), torch.ones(len(y), 1, dtype=s.dtype))
    others = s.masked_fill(torch.nn.functional.one_hot(y, 6).bool(), 0.0)
    assert (others < 1).all()


def test_eq8_holds_on_the_true_class_path_exactly_when_the_s_weighted_sum_shrinks():
    """|g^Multi| < |g^Uni| on the true-class path iff sum_k exp(a_k) (s_k - 1) < 0."""
    head, z1, z2, y = theory.random_problem(2000, 6, (8, 8), seed=2)
    holds = theory.gradient_ratio(head, z1, z2, y, path="true_class") < 1
    a = head.unimodal_logits(z1)
    condition = (
        torch.exp(a - a.max(1, keepdim=True).values) * (theory.s_factors(head, z2, y) - 1)
    ).sum(1) < 0
    assert torch.equal(holds, condition)
    assert 0 < holds.double().mean() < 1  # random heads give both outcomes


@pytest.mark.parametrize("path, max_fraction_when_wrong", [("true_class", 0.0), ("full", 0.25)])
def test_eq8_holds_when_m2_is_confidently_right_and_fails_when_confidently_wrong(
    path, max_fraction_when_wrong
):
    right = theory.gradient_ratio(
        *theory.random_problem(1000, 8, (16, 16), seed=4, regime="m2_right"), path=path
    )
    wrong = theory.gradient_ratio(
        *theory.random_problem(1000, 8, (16, 16), seed=4, regime="m2_wrong"), path=path
    )
    assert (right < 1).all()
    assert (wrong < 1).double().mean() <= max_fraction_when_wrong


def test_head_from_linear_splits_the_weight_by_modality():
    linear = torch.nn.Linear(5 + 3, 4).double()
    head = theory.ConcatHead.from_linear(linear.weight, linear.bias, d1=5)
    z1, z2 = torch.randn(7, 5, dtype=torch.float64), torch.randn(7, 3, dtype=torch.float64)
    torch.testing.assert_close(head.logits(z1, z2), linear(torch.cat([z1, z2], 1)))


def test_unknown_gradient_path_is_rejected():
    with pytest.raises(ValueError, match="valid paths: full, true_class"):
        theory.gradient_ratio(*theory.random_problem(4, 3, (2, 2), 0), path="diagonal")


def test_head_for_each_modality_reorders_the_blocks_without_changing_the_logits():
    dims = {"a": 3, "b": 4, "c": 2}
    linear = torch.nn.Linear(sum(dims.values()), 5).double()
    feats = {m: torch.randn(6, d, dtype=torch.float64) for m, d in dims.items()}
    full = linear(torch.cat(list(feats.values()), 1))
    for m in dims:
        head = theory.ConcatHead.for_modality(linear.weight, linear.bias, dims, m)
        others = torch.cat([z for n, z in feats.items() if n != m], 1)
        torch.testing.assert_close(head.logits(feats[m], others), full)
