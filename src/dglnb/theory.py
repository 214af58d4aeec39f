"""Closed-form gradients of the paper's §3.1 (eq. 3-8) for concat fusion and a linear head.

Notation (one row per sample): representations ``z1`` (N, d1) and ``z2`` (N, d2), labels ``y`` (N,),
head ``logits = z1 W1^T + z2 W2^T + b`` with ``W = [W1, W2]`` (eq. 1-2 with concatenation).
``L`` is the cross-entropy. The unimodal model of eq. 7 is the same head with ``z2`` removed.

Eq. 4 and eq. 7 keep only the path through the true-class logit, ``dL/dl_y * dl_y/dz1
= (p_y - 1) W1_y``; the exact gradient also flows through every other logit. We give both.
Eq. 4 as printed reuses ``k`` as the summation index and as a free index on
``s_k = exp((W2_k - W2_y) z2)``; the expression that is exact for the true-class path puts
``s_k`` inside the softmax normaliser: ``p_y = exp(a_y) / sum_k exp(a_k) s_k`` with
``a_k = W1_k z1 + b_k`` (see notebook 01).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor


@dataclass(frozen=True)
class ConcatHead:
    """The linear classifier on ``[z1; z2]``: ``W1`` (K, d1), ``W2`` (K, d2), ``b`` (K,)."""

    W1: Tensor
    W2: Tensor
    b: Tensor

    @classmethod
    def from_linear(cls, weight: Tensor, bias: Tensor, d1: int) -> ConcatHead:
        """Split a ``Linear(d1 + d2, K)`` head's weight into its two modality blocks."""
        return cls(weight[:, :d1], weight[:, d1:], bias)

    @classmethod
    def for_modality(
        cls, weight: Tensor, bias: Tensor, dims: dict[str, int], modality: str
    ) -> ConcatHead:
        """View a concat head over modalities ``dims`` (in order) as ``[modality; all the others]``."""
        starts = dict(zip(dims, [0, *torch.tensor(list(dims.values())).cumsum(0).tolist()]))
        own = torch.zeros(weight.shape[1], dtype=torch.bool)
        own[starts[modality] : starts[modality] + dims[modality]] = True
        return cls(weight[:, own], weight[:, ~own], bias)

    def logits(self, z1: Tensor, z2: Tensor) -> Tensor:
        return z1 @ self.W1.T + z2 @ self.W2.T + self.b

    def unimodal_logits(self, z1: Tensor) -> Tensor:
        """The unimodal model of eq. 7: the same head with ``z2`` removed (equivalently zeroed)."""
        return z1 @ self.W1.T + self.b


def _probs_minus_onehot(logits: Tensor, y: Tensor) -> Tensor:
    return logits.softmax(dim=1) - F.one_hot(y, logits.shape[1]).to(logits.dtype)


def multimodal_gradient(head: ConcatHead, z1: Tensor, z2: Tensor, y: Tensor) -> Tensor:
    """Exact ``dL^Multi / dz1`` (eq. 3 for concat): ``(softmax(l) - e_y) W1``."""
    return _probs_minus_onehot(head.logits(z1, z2), y) @ head.W1


def unimodal_gradient(head: ConcatHead, z1: Tensor, y: Tensor) -> Tensor:
    """Exact ``dL^Uni / dz1`` of the unimodal model (the full form of eq. 7)."""
    return _probs_minus_onehot(head.unimodal_logits(z1), y) @ head.W1


def s_factors(head: ConcatHead, z2: Tensor, y: Tensor) -> Tensor:
    """``s_k = exp((W2_k - W2_y) z2)`` per sample and class (N, K); ``s_y = 1`` (eq. 5)."""
    scores = z2 @ head.W2.T
    return torch.exp(scores - scores.gather(1, y[:, None]))


def true_class_probability(head: ConcatHead, z1: Tensor, z2: Tensor, y: Tensor) -> Tensor:
    """Multimodal ``p_y`` written through s: ``exp(a_y) / sum_k exp(a_k) s_k``,
    ``a = W1 z1 + b``."""
    a = head.unimodal_logits(z1)
    weights = torch.exp(a - a.gather(1, y[:, None])) * s_factors(head, z2, y)
    return 1.0 / weights.sum(dim=1)


def eq4_true_class_path(head: ConcatHead, z1: Tensor, z2: Tensor, y: Tensor) -> Tensor:
    """Eq. 4 corrected: ``(p_y - 1) W1_y`` with ``p_y`` from :func:`true_class_probability`."""
    return (true_class_probability(head, z1, z2, y) - 1.0)[:, None] * head.W1[y]


def eq4_as_printed(head: ConcatHead, z1: Tensor, z2: Tensor, y: Tensor) -> Tensor:
    """Eq. 4 read literally, ``k`` free: ``(p^uni_y s_k - 1) W1_y`` for every k,
    shape (N, K, d1)."""
    p_uni_y = head.unimodal_logits(z1).softmax(dim=1).gather(1, y[:, None])  # (N, 1)
    factor = p_uni_y * s_factors(head, z2, y) - 1.0  # (N, K)
    return factor[:, :, None] * head.W1[y][:, None, :]


def eq7_as_printed(head: ConcatHead, z1: Tensor, y: Tensor) -> Tensor:
    """Eq. 7: ``(p^uni_y - 1) W1_y``, the true-class path of the unimodal gradient."""
    p_uni_y = head.unimodal_logits(z1).softmax(dim=1).gather(1, y[:, None])
    return (p_uni_y - 1.0) * head.W1[y]


def gradient_ratio(
    head: ConcatHead, z1: Tensor, z2: Tensor, y: Tensor, path: str = "full"
) -> Tensor:
    """``|g^Multi| / |g^Uni|`` per sample; eq. 8 claims it is below 1.

    ``path="full"`` compares the exact gradients, ``path="true_class"`` the true-class paths
    of eq. 4 (corrected) and eq. 7, whose ratio is ``(1 - p^multi_y) / (1 - p^uni_y)``.
    """
    if path == "full":
        multi, uni = multimodal_gradient(head, z1, z2, y), unimodal_gradient(head, z1, y)
    elif path == "true_class":
        multi, uni = eq4_true_class_path(head, z1, z2, y), eq7_as_printed(head, z1, y)
    else:
        raise ValueError(f"unknown path {path!r}; valid paths: full, true_class")
    return multi.norm(dim=1) / uni.norm(dim=1)


def autograd_gradients(head: ConcatHead, z1: Tensor, z2: Tensor, y: Tensor) -> dict[str, Tensor]:
    """Reference gradients w.r.t. ``z1`` by autograd (summed loss, so rows are per-sample gradients).

    ``multi_true_class`` / ``uni_true_class`` stop the gradient through every logit but the
    true class's, which isolates the path that eq. 4 and eq. 7 describe.
    """
    z1 = z1.detach().requires_grad_(True)

    def grad_of(logits: Tensor) -> Tensor:
        return torch.autograd.grad(F.cross_entropy(logits, y, reduction="sum"), z1)[0]

    def true_class_only(logits_live: Tensor, logits_frozen: Tensor) -> Tensor:
        mask = F.one_hot(y, logits_live.shape[1]).bool()
        return torch.where(mask, logits_live, logits_frozen)

    return {
        "multi": grad_of(head.logits(z1, z2)),
        "uni": grad_of(head.unimodal_logits(z1)),
        "multi_true_class": grad_of(
            true_class_only(head.logits(z1, z2), head.logits(z1.detach(), z2))
        ),
        "uni_true_class": grad_of(
            true_class_only(head.unimodal_logits(z1), head.unimodal_logits(z1.detach()))
        ),
    }


def formula_errors(head: ConcatHead, z1: Tensor, z2: Tensor, y: Tensor) -> dict[str, float]:
    """Max absolute error of each closed form against autograd (use float64)."""
    ref = autograd_gradients(head, z1, z2, y)
    p_multi_y = head.logits(z1, z2).softmax(dim=1).gather(1, y[:, None])[:, 0]
    printed = eq4_as_printed(head, z1, z2, y)
    return {
        "eq3 exact multimodal gradient": _max_err(
            multimodal_gradient(head, z1, z2, y), ref["multi"]
        ),
        "eq7 exact unimodal gradient": _max_err(unimodal_gradient(head, z1, y), ref["uni"]),
        "p_y through s (eq. 4 corrected)": _max_err(
            true_class_probability(head, z1, z2, y), p_multi_y
        ),
        "eq4 corrected, true-class path": _max_err(
            eq4_true_class_path(head, z1, z2, y), ref["multi_true_class"]
        ),
        "eq7 as printed, true-class path": _max_err(
            eq7_as_printed(head, z1, y), ref["uni_true_class"]
        ),
        "eq4 as printed, best k": min(
            _max_err(printed[:, k], ref["multi_true_class"]) for k in range(printed.shape[1])
        ),
    }


def _max_err(a: Tensor, b: Tensor) -> float:
    return (a - b).abs().max().item()


def random_problem(
    n: int, n_classes: int, dims: tuple[int, int], seed: int, regime: str = "random"
) -> tuple[ConcatHead, Tensor, Tensor, Tensor]:
    """A random concat head and samples, float64, in one of three regimes for ``z2``.

    ``random``: z2 unrelated to y. ``m2_right``: z2 points at its true-class row ``W2_y``
    (the other modality is confidently right, so s_k < 1 for almost every k). ``m2_wrong``: z2 points at a
    wrong class's row (confidently wrong, some s_k > 1): where eq. 8 is expected to fail.
    """
    if regime not in ("random", "m2_right", "m2_wrong"):
        raise ValueError(f"unknown regime {regime!r}; valid regimes: random, m2_right, m2_wrong")
    g = torch.Generator().manual_seed(seed)
    d1, d2 = dims
    head = ConcatHead(
        torch.randn(n_classes, d1, generator=g, dtype=torch.float64) / d1**0.5,
        torch.randn(n_classes, d2, generator=g, dtype=torch.float64) / d2**0.5,
        0.1 * torch.randn(n_classes, generator=g, dtype=torch.float64),
    )
    y = torch.randint(n_classes, (n,), generator=g)
    z1 = torch.randn(n, d1, generator=g, dtype=torch.float64)
    z2 = torch.randn(n, d2, generator=g, dtype=torch.float64)
    if regime != "random":
        target = (
            y
            if regime == "m2_right"
            else (y + torch.randint(1, n_classes, (n,), generator=g)) % n_classes
        )
        direction = head.W2[target] / head.W2[target].norm(dim=1, keepdim=True)
        z2 = 0.5 * z2 + 3.0 * d2**0.5 * direction
    return head, z1, z2, y


def eq8_fractions(head: ConcatHead, z1: Tensor, z2: Tensor, y: Tensor) -> dict[str, float]:
    """Fraction of samples where eq. 8 (``|g^Uni| > |g^Multi|``) holds, per gradient form,
    and where its premise (every ``s_k < 1`` for ``k != y``, eq. 5) holds."""
    s = s_factors(head, z2, y).masked_fill(F.one_hot(y, head.b.shape[0]).bool(), 0.0)
    return {
        "eq5 premise: all s_k < 1": (s < 1).all(dim=1).double().mean().item(),
        "eq8, true-class path": (gradient_ratio(head, z1, z2, y, "true_class") < 1)
        .double()
        .mean()
        .item(),
        "eq8, exact gradient": (gradient_ratio(head, z1, z2, y, "full") < 1).double().mean().item(),
    }


def ratios_by_regime(
    n: int, n_classes: int, dims: tuple[int, int], seed: int, path: str = "full"
) -> dict[str, Tensor]:
    """``|g^Multi| / |g^Uni|`` per sample for each regime of :func:`random_problem`."""
    return {
        regime: gradient_ratio(*random_problem(n, n_classes, dims, seed, regime), path=path)
        for regime in ("random", "m2_right", "m2_wrong")
    }


def eq8_on_features(
    weight: Tensor, bias: Tensor, feats: dict[str, Tensor], y: Tensor
) -> dict[str, dict[str, float]]:
    """:func:`eq8_fractions` for every modality of a trained concat head, that modality as m1
    and the concatenation of the others as m2 (``feats`` in the head's modality order)."""
    dims = {m: z.shape[1] for m, z in feats.items()}
    out = {}
    for m in feats:
        head = ConcatHead.for_modality(weight, bias, dims, m)
        others = torch.cat([z for n, z in feats.items() if n != m], dim=1)
        out[m] = eq8_fractions(head, feats[m], others, y)
    return out
