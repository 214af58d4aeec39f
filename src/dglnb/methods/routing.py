"""DGL as a loss for any model: :func:`dgl_loss` routes every gradient as the paper's eq. 9-15 do.

Give it the features your encoders produced, your fusion and the targets; call ``.backward()`` on
what it returns (or backpropagate its ``loss`` yourself: it is one scalar). Each loss is built so
that its graph holds only the parameters it may reach:

* L^d, the fusion on detached features (eq. 9-10): reaches the fusion's parameters only;
* L^m, the fusion with every other modality dropped and its own parameters detached
  (``torch.func.functional_call``; eq. 11-14): reaches encoder m only;

so one backward pass of ``alpha * sum_m L^m + L^d`` writes exactly DGL's gradients (eq. 15), in any
loop and with any optimizer, under autocast and ``torch.compile``, and under DDP (let the wrapped
model's ``forward`` return the features, and pass the unwrapped fusion). The passes with a modality
dropped run on copies of the fusion's buffers: batch norm normalises them by their own batch but
keeps the multimodal pass's statistics.

A fusion that runs encoder layers itself (MMTM-style) cannot be split that way: name the parameter
groups (``encoder_parameters``, ``fusion_parameters``) and ``.backward()`` routes each loss to its
group with ``backward(inputs=...)``. This module imports only torch.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Hashable, Iterable, Mapping

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .routing_inputs import (
    Features,
    check_features,
    check_reached,
    check_separable,
    detach,
    groups_of,
    items,
    listed,
    map_tensors,
    replace,
)


def zeros(feature: Any) -> Any:
    """The default stand-in for a dropped modality: zeros of the feature's shape (eq. 12 and 14)."""
    # 0 in place of z^n: the shapes of z^n
    return map_tensors(torch.zeros_like, feature)


@dataclass
class DGLLoss:
    """What :func:`~dglnb.methods.routing.dgl_loss` returns: ``loss`` to backpropagate, and its parts for logging.

    ``multimodal`` is L^d (L^Multi when not truncated), ``unimodal`` each L^m, ``fusion_alone`` the
    fusion's loss on each modality alone, detached (``fusion_dropout > 0`` only), ``outputs`` the fusion's outputs
    on every modality (e.g. for accuracy). In the routed form ``loss`` is a detached value: call
    :meth:`backward`, which makes one ``backward(inputs=...)`` call per route.
    """

    loss: Tensor
    multimodal: Tensor
    unimodal: dict[Hashable, Tensor]
    outputs: Any
    fusion_alone: dict[Hashable, Tensor] = field(default_factory=dict)
    routes: list[tuple[Tensor, list[Tensor]]] = field(default_factory=list, repr=False)

    def backward(self) -> None:
        """Write DGL's gradients into ``.grad`` (accumulating, as ``Tensor.backward`` does)."""
        if not self.routes:
            self.loss.backward()
        for i, (loss, params) in enumerate(self.routes):
            loss.backward(inputs=params, retain_graph=i < len(self.routes) - 1)

    def logs(self) -> dict[str, float]:
        """``loss``, ``loss_multi``, ``loss_<m>`` and ``loss_fusion_<m>_alone`` as floats."""
        parts = {
            "loss": self.loss,
            "loss_multi": self.multimodal,
            **{f"loss_{m}": v for m, v in self.unimodal.items()},
            **{f"loss_fusion_{m}_alone": v for m, v in self.fusion_alone.items()},
        }
        return {name: float(value.detach()) for name, value in parts.items()}


def dgl_loss(
    features: Features,
    fusion: Callable[[Features], Any],
    target: Any,
    loss_fn: Callable[[Any, Any], Tensor] = F.cross_entropy,
    *,
    alpha: float = 4.0,
    drop: Callable[[Any], Any] = zeros,
    truncate_multimodal: bool = True,
    truncate_unimodal: bool = True,
    fusion_dropout: float = 0.0,
    encoder_parameters: Mapping[Hashable, Iterable[Tensor]] | None = None,
    fusion_parameters: Iterable[Tensor] | None = None,
) -> DGLLoss:
    """DGL's losses for one batch, built so that backpropagating them writes DGL's gradients.

    ``features``: what your encoders produced, not detached (a dict name -> feature, or a tuple).
    ``fusion``: maps features of that kind to outputs; an ``nn.Module`` (whose parameters are the
    fusion's), or a function without trainable parameters of its own. ``loss_fn(outputs, target)``:
    a reduced or a per-sample loss (then averaged), e.g. a per-pixel cross-entropy with an ignore
    index. ``drop(feature)``: the stand-in for a dropped modality (zeros; None tells a fusion that
    handles absence itself). ``alpha`` weights the unimodal losses (eq. 15).

    ``truncate_multimodal`` (MT) computes L^d on detached features; ``truncate_unimodal`` (UT) keeps
    each L^m off the fusion's parameters. Both: DGL; MT only: ``dgl_mt``; UT only: ``dgl_ut``; neither:
    ``L^Multi + alpha * sum_m L^m`` (``joint_aux``). ``fusion_dropout`` (lambda >= 0) also trains the
    fusion on the unimodal paths the encoders learn through, on detached features: ``+ lambda *
    mean_m L^d(m alone)``, every modality but m dropped; no encoder gets a gradient from it.
    lambda = alpha * M (M modalities) gives the fusion exactly ``dgl_mt``'s gradients; 0 is the
    paper's DGL, whose fusion never sees a dropped modality.

    ``encoder_parameters`` (name -> parameters) with ``fusion_parameters``: the routed form, for a
    fusion whose call runs encoder layers (see the module doc); call the result's ``backward()``.
    """
    names = check_features(features)
    if alpha < 0 or fusion_dropout < 0:
        raise ValueError(f"alpha and fusion_dropout must be >= 0, got {alpha} and {fusion_dropout}")
    groups = groups_of(names, encoder_parameters, fusion_parameters)
    if groups is None:
        check_separable(features, names, fusion)
    # [eq. 11-14] L^m: the same fusion with every other modality dropped, its parameters frozen (UT)
    frozen = truncate_unimodal and groups is None  # (the routed form keeps L^m off by its routes)
    # L^m = L_CE(W z^{tau m} + b, y), z^{tau m} = phi_tau(theta_tau, z^m, 0): a scalar per m
    unimodal = {
        m: _loss(loss_fn, _fuse_dropped(fusion, _alone(features, m, drop), names, frozen), target)
        for m in names
    }
    # [/eq. 11-14]
    # [eq. 9-10] (MT): L^d on detached features, so that it reaches the fusion's parameters only
    # z^m.detach() for every m (eq. 9): the same shapes, cut from the encoders' graphs
    detached = replace(features, {n: detach(z) for n, z in items(features)})
    # W z^{tau d} + b, z^{tau d} = phi_tau(theta_tau, z^1.detach(), ...): e.g. (B, K) logits
    outputs = _fuse(fusion, detached if truncate_multimodal else features, names)
    # L^d = L_CE(W z^{tau d} + b, y) (eq. 10): a scalar
    multimodal = _loss(loss_fn, outputs, target)
    # [/eq. 9-10]
    # the fusion on the unimodal paths (fusion_dropout): detached features, every other modality dropped
    alone = {
        m: _loss(loss_fn, _fuse_dropped(fusion, _alone(detached, m, drop), names, False), target)
        for m in (names if fusion_dropout > 0 else ())
    }
    # lambda * mean_m L^d(m alone): a scalar, or None
    seen_alone = fusion_dropout * torch.stack(list(alone.values())).mean() if alone else None
    # [eq. 15] the pair [L^d, alpha * sum_m L^m], each loss written into its own group
    if groups is None:  # each loss's graph holds only the parameters it may reach: one backward
        check_reached(features, fusion, unimodal, truncate_unimodal)
        # alpha sum_m L^m + L^d: eq. 15's pair as one scalar, each term's graph in its own group
        loss = alpha * sum(unimodal.values()) + multimodal
        loss = loss if seen_alone is None else loss + seen_alone
        return DGLLoss(loss, multimodal, unimodal, outputs, alone)
    encoders, fusion_group = groups  # the fusion runs encoder layers: route each loss to its group
    every = [p for params in encoders.values() for p in params] + fusion_group
    # routes: alpha L^m -> theta_m (+ fusion without UT); L^d -> fusion (every parameter without MT)
    fusion_for_unimodal = [] if truncate_unimodal else fusion_group
    routes = [(alpha * unimodal[m], encoders[m] + fusion_for_unimodal) for m in names]
    routes.append((multimodal, fusion_group if truncate_multimodal else every))
    # [/eq. 15]
    routes += [] if seen_alone is None else [(seen_alone, fusion_group)]
    total = sum(loss.detach() for loss, _ in routes)
    return DGLLoss(total, multimodal, unimodal, outputs, alone, routes)


def _alone(features: Features, keep: Hashable, drop: Callable[[Any], Any]) -> Features:
    """``features`` with every modality but ``keep`` dropped (the dropped ones detached first)."""
    # z^n -> drop(z^n) for every n != keep (eq. 12/14): phi_tau reads (z^keep, 0)
    return replace(features, {n: z if n == keep else drop(detach(z)) for n, z in items(features)})


def _loss(loss_fn: Callable[[Any, Any], Tensor], outputs: Any, target: Any) -> Tensor:
    # a reduced loss, or per-sample (per-pixel) losses averaged to a scalar
    value = loss_fn(outputs, target)
    return value.mean() if value.dim() else value


def _fuse(fusion: Callable[[Features], Any], inputs: Features, names: list[Hashable]) -> Any:
    """``fusion(inputs)``; a lookup of a modality the features lack is named in the error."""
    try:
        return fusion(inputs)
    except KeyError as error:
        if error.args and error.args[0] not in names:
            raise ValueError(
                f"the fusion looked up modality {error.args[0]!r}, but the features "
                f"have {listed(names)}: give features and fusion the same names"
            ) from error
        raise


def _fuse_dropped(
    fusion: Callable[[Features], Any], inputs: Features, names: list[Hashable], frozen: bool
) -> Any:
    """A pass with a modality dropped: an ``nn.Module`` fusion runs on copies of its buffers (batch
    norm keeps the multimodal pass's statistics), with its parameters detached when ``frozen``."""
    if not isinstance(fusion, nn.Module):
        return _fuse(fusion, inputs, names)
    state = _state(fusion, frozen)
    return _fuse(lambda x: torch.func.functional_call(fusion, state, (x,)), inputs, names)


def _state(fusion: nn.Module, frozen: bool) -> dict[str, Tensor]:
    """The fusion's parameters (detached when ``frozen``) and copies of its buffers."""
    # theta_tau, W, b detached under UT: dL^m/dtheta_tau = 0
    state = {n: p.detach() if frozen else p for n, p in fusion.named_parameters()}
    return {**state, **{n: b.clone() for n, b in fusion.named_buffers()}}
