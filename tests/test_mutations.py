"""Mutation tests: break DGL in memory in each way the paper's rule can be broken and show that the
routing checks of test_routing.py catch it (and pass on the unbroken code)."""

from __future__ import annotations

import pytest

from dglnb.methods import routing
from dglnb.methods.dgl import DGL
from test_routing import ROUTING_CHECKS


def multimodal_loss_reaches_the_encoders(monkeypatch):
    """L^Multi is no longer computed on detached features (no multimodal truncation)."""
    monkeypatch.setattr(DGL, "truncate_multimodal", False)


def unimodal_loss_reaches_the_fusion(monkeypatch):
    """alpha * L^m is routed to the fusion parameters too (no unimodal truncation)."""
    monkeypatch.setattr(DGL, "truncate_unimodal", False)


def other_modalities_not_zeroed(monkeypatch):
    """The unimodal logits use every modality instead of zeroing the others (eq. 12/14 ignored)."""
    monkeypatch.setattr(routing, "_alone", lambda features, keep, drop: features)


def alpha_ignored(monkeypatch):
    """The unimodal gradient is not scaled by alpha (alpha is read as 1 whatever was asked)."""
    monkeypatch.setattr(
        DGL, "alpha", property(lambda self: 1.0, lambda self, value: None), raising=False
    )


def unimodal_passes_update_running_stats(monkeypatch):
    """The zeroed passes run in training mode with batch norm updating its running statistics."""

    def live_buffers(fusion, frozen):
        params = {n: p.detach() if frozen else p for n, p in fusion.named_parameters()}
        return {**params, **dict(fusion.named_buffers())}

    monkeypatch.setattr(routing, "_state", live_buffers)


# mutant -> checks that must fail on it (each name is a prefix of ROUTING_CHECKS keys)
MUTANTS = {
    multimodal_loss_reaches_the_encoders: ["encoder gradient", "routes [dgl-", "paper formulation"],
    unimodal_loss_reaches_the_fusion: ["fusion gradient", "routes [dgl-", "paper formulation"],
    other_modalities_not_zeroed: ["encoder gradient", "routes [dgl-", "paper formulation"],
    alpha_ignored: ["encoder gradient", "routes [dgl-", "paper formulation"],
    unimodal_passes_update_running_stats: ["batchnorm [dgl-"],
}


def failing_checks() -> set[str]:
    """The names of the routing checks that fail on the code as it is now."""
    failed = set()
    for name, check in ROUTING_CHECKS.items():
        try:
            check()
        except AssertionError:
            failed.add(name)
    return failed


def test_the_routing_checks_pass_on_dgl_as_written():
    assert failing_checks() == set()


@pytest.mark.parametrize("mutate", MUTANTS, ids=lambda mutate: mutate.__name__)
def test_the_routing_checks_catch_a_broken_dgl(mutate, monkeypatch):
    mutate(monkeypatch)
    failed = failing_checks()
    for family in MUTANTS[mutate]:
        assert any(name.startswith(family) for name in failed), (
            f"no '{family}' check caught {mutate.__name__}"
        )
