"""``agm``: Adaptive Gradient Modulation (Li et al., ICCV 2023). The authors' repository could not be
read; this follows BalanceBenchmark's ``AGM_trainer.py`` (its ``newGrad`` path) and the authors'
answers in the AGM issue threads.

One step:

1. Shapley-style logits per modality from the fusion applied to modality subsets (the rest zeroed),
   without gradient: ``phi_m = sum_{S subset of others} |S|! (M-|S|-1)! / M! * (v(S + m) - v(S))`` with
   ``v(S) = fuse(features, zero = modalities not in S)``; for two modalities
   ``phi_a = 1/2 [(f(a,v) - f(0,v)) + (f(a,0) - v(empty))]``;
2. scores ``s_m`` = the mean cross-entropy of ``phi_m`` (probabilities floored at 1e-8);
   ``r_m = exp(M/(M-1) * (s_m - mean_n s_n))``; ``rbar_m`` the same from the running means of the
   scores over every earlier step; ``k_m = exp(modulation_alpha * min(rbar_m - r_m, 7))``; then the
   running means take in this step's scores;
3. the multimodal cross-entropy is back-propagated and encoder m's gradient multiplied by ``k_m``
   (weights, not 1-D tensors such as biases, as the code does); if any fusion weight's gradient
   leaves [-5, 5], the whole model's gradient is clipped to norm 5 (``clip_threshold``).

Each step logs ``coeff_<m>``. The running means and their step count are the method's state.

Published ``modulation_alpha``: 1.5 on CREMA-D (the author, AGM issues #3/#5/#10, who also
modulates over the whole run), 0.1 elsewhere (BalanceBenchmark).

Where the sources differ (constructor options):

* ``empty_coalition`` (the value ``v(empty)`` of the empty subset): ``"zero"`` (default) takes it as 0,
  as the original two-modality module (``GradMod_2``: ``1/2 (f(a,v) - f(0,v) + f(a,0))``) does;
  ``"padded"`` takes the fusion of all-zero features (then ``sum_m phi_m = f(x) - f(0)`` exactly);
  ``"omitted"`` drops the empty subset's term, as BalanceBenchmark's ``newGrad`` does (there
  ``phi_a = 1/2 (f(a,v) - f(0,v))``).
* The original module scales the gradient flowing back through ``phi_m`` with a backward hook;
  BalanceBenchmark (and this) back-propagates the plain multimodal loss and scales encoder m's
  gradient afterwards.
* The code computes the padded outputs with the network in eval mode; here the encoders run once
  (in train mode) and only the fusion, which has no dropout or BatchNorm, is evaluated per subset.
"""

from __future__ import annotations

import itertools
import math
from typing import Any, Mapping

import torch
from torch import Tensor, nn

from ..models import MultimodalClassifier
from . import METHODS
from .base import Batch, Method, scalar_logs, true_class_probability

EMPTY_COALITIONS = ("zero", "padded", "omitted")


def check_empty_coalition(name: str) -> str:
    if name not in EMPTY_COALITIONS:
        raise ValueError(f"unknown empty_coalition {name!r}; valid: {', '.join(EMPTY_COALITIONS)}")
    return name


def shapley_logits(
    model: MultimodalClassifier, feats: Mapping[str, Tensor], empty_coalition: str = "zero"
) -> dict[str, Tensor]:
    """phi_m for every modality: the Shapley value of m in the game ``v(S) = fuse(zero the rest of S)``."""
    check_empty_coalition(empty_coalition)
    modalities = model.modalities
    n = len(modalities)
    values: dict[frozenset[str], Tensor] = {}

    def value(subset: frozenset[str]) -> Tensor | None:
        if not subset and empty_coalition != "padded":
            return None if empty_coalition == "omitted" else 0
        if subset not in values:
            values[subset] = model.fuse(feats, zero=[m for m in modalities if m not in subset])
        return values[subset]

    phi = {}
    for m in modalities:
        others = [o for o in modalities if o != m]
        total = 0
        for size in range(n):
            weight = math.factorial(size) * math.factorial(n - size - 1) / math.factorial(n)
            for subset in map(frozenset, itertools.combinations(others, size)):
                without = value(subset)
                if without is not None:
                    # phi_m += |S|! (M - |S| - 1)! / M! * (v(S + m) - v(S)): (B, K)
                    total = total + weight * (value(subset | {m}) - without)
        phi[m] = total
    return phi


@METHODS.register("agm")
class AGM(Method):
    """Multimodal CE with encoder m's gradient scaled by k_m from Shapley-logit scores against their running mean."""

    PUBLISHED = {"*": dict(modulation_alpha=0.1), "cremad": dict(modulation_alpha=1.5)}

    def __init__(
        self,
        modulation_alpha: float | None = None,
        empty_coalition: str = "zero",
        clip_threshold: float | None = 5.0,
        **kw: Any,
    ) -> None:
        super().__init__(**kw)
        self.set_published(modulation_alpha=modulation_alpha)
        if self.modulation_alpha < 0:
            raise ValueError(f"modulation_alpha must be >= 0, got {self.modulation_alpha}")
        self.empty_coalition = check_empty_coalition(empty_coalition)
        self.clip_threshold = clip_threshold
        self.steps = 0
        self.mean_scores: dict[str, float] = {}

    @staticmethod
    def ratios(scores: Mapping[str, float]) -> dict[str, float]:
        """r_m = exp(M/(M-1) (s_m - mean s))."""
        n = len(scores)
        mean = sum(scores.values()) / n
        # r_m = exp(M / (M - 1) * (s_m - mean_n s_n))
        return {m: math.exp(n / (n - 1) * (s - mean)) for m, s in scores.items()}

    def coefficients(self, scores: Mapping[str, float]) -> dict[str, float]:
        """k_m from this step's scores and the running means of the earlier ones; then update the means."""
        running = {m: self.mean_scores.get(m, 0.0) for m in scores}
        target, now = self.ratios(running), self.ratios(scores)
        self.steps += 1
        self.mean_scores = {
            m: running[m] * (self.steps - 1) / self.steps + s / self.steps
            for m, s in scores.items()
        }
        # k_m = exp(alpha * min(rbar_m - r_m, 7))
        return {m: math.exp(self.modulation_alpha * min(target[m] - now[m], 7.0)) for m in scores}

    def compute_gradients(self, model: MultimodalClassifier, batch: Batch) -> dict[str, Tensor]:
        y = batch["label"]
        feats = model.encode(batch)
        with torch.no_grad():
            phi = shapley_logits(
                model, {m: z.detach() for m, z in feats.items()}, self.empty_coalition
            )
            # s_m = mean_i -log softmax(phi_m)_i[y_i]
            scores = {
                m: float(-true_class_probability(u, y).clamp_min(1e-8).log().mean())
                for m, u in phi.items()
            }
        loss = model.loss(model.fuse(feats), y)
        loss.backward()
        coeffs = self.coefficients(scores)
        with torch.no_grad():
            for m, k in coeffs.items():
                for p in model.encoder_parameters(m):
                    if p.grad is not None and p.dim() > 1:
                        # g <- k_m g for encoder m's weights
                        p.grad.mul_(k)
        fusion_weights = [
            p.grad for p in model.fusion_parameters() if p.grad is not None and p.dim() > 1
        ]
        if self.clip_threshold is not None and any(
            g.abs().max() > self.clip_threshold for g in fusion_weights
        ):
            nn.utils.clip_grad_norm_(model.parameters(), self.clip_threshold)
        return {"loss_multi": loss.detach(), **scalar_logs("coeff", coeffs)}

    def state_dict(self) -> dict:
        return {"steps": self.steps, "mean_scores": dict(self.mean_scores)}

    def load_state_dict(self, state: dict) -> None:
        self.steps, self.mean_scores = state["steps"], dict(state["mean_scores"])
