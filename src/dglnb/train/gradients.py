"""Training-dynamics diagnostics (the paper's Fig. 1c and Fig. 3), measured without touching training.

Every ``diag_every`` steps the loop calls :func:`measure` on the current batch, just before the
method's step. For every method (vanilla included) and every modality m it records:

* ``grad_multimodal``: the mean absolute gradient over encoder m's parameters of the *multimodal*
  loss CE(fuse(z), y), features not detached, i.e. what vanilla joint training would send to
  encoder m at this point;
* ``grad_unimodal``: the same for m's unimodal loss CE(fuse(z with the others zeroed), y), what a
  unimodal model (eq. 7) would send;
* for concat fusion, ``s_mean``: the mean over samples i and classes k != y_i of
  ``s = exp((W_k^m - W_y^m) z_i^m)``, where W^m are the head's columns that read z^m (eq. 4-5: s of
  the *other* modality scales down encoder m's multimodal gradient), and ``s_frac_below_1``, the
  fraction of those (i, k) pairs with s < 1 (the paper's eq. 5 claims all of them), and
  ``s_median``, their (lower) median (a few very large s, from samples the modality gets wrong, can dominate
  the mean while most s are far below 1). NaN for other fusions.

Right after the same step (:func:`after_step`), what the step did to each modality m:

* ``grad_applied``: the mean absolute gradient over encoder m's parameters that the method's step
  applied (after its clipping): ``alpha`` times the unimodal gradient under DGL, the multimodal one
  under vanilla, the own head's under ``unimodal``;
* ``head_block_norm``: the Frobenius norm of the head's weights that read z^m: the block W^m of a
  concat head (``unimodal``: the modality's own head); NaN for other heads. Under DGL W^m learns
  only from the multimodal loss, and the unimodal gradient that reaches encoder m passes through it.

The mean is over all parameter entries of the encoder (the official logger instead sums per-tensor
means, after gradient clipping, for the DGL step it applies). Nothing is applied: gradients come from
``torch.autograd.grad`` (``.grad`` is untouched), and the random state and buffers (batch-norm
running statistics) are restored afterwards, so a run with diagnostics follows exactly the same
trajectory as one without.

:mod:`dglnb.analysis.dynamics` reads the ``diagnostics.csv`` it fills.
"""

from __future__ import annotations

import contextlib
from typing import Any, Iterator, Mapping

import torch
from torch import Tensor, nn

from ..models.fusion import ConcatFusion

COLUMNS = (
    "epoch",
    "step",
    "modality",
    "grad_multimodal",
    "grad_unimodal",
    "s_mean",
    "s_frac_below_1",
    "s_median",
    "grad_applied",
    "head_block_norm",
)


@contextlib.contextmanager
def preserved_state(model: nn.Module) -> Iterator[None]:
    """Restore the model's buffers and the global torch random state on exit."""
    buffers = {name: b.detach().clone() for name, b in model.named_buffers()}
    cpu_rng = torch.get_rng_state()
    cuda_rng = torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None
    try:
        yield
    finally:
        with torch.no_grad():
            for name, b in model.named_buffers():
                b.copy_(buffers[name])
        torch.set_rng_state(cpu_rng)
        if cuda_rng is not None:
            torch.cuda.set_rng_state_all(cuda_rng)


def mean_abs_grad(loss: Tensor, params: list[nn.Parameter]) -> float:
    """Mean ``|d loss / d theta|`` over every entry of ``params`` (unreached parameters count as 0)."""
    grads = torch.autograd.grad(loss, params, retain_graph=True, allow_unused=True)
    total = sum(g.abs().sum().item() for g in grads if g is not None)
    return total / sum(p.numel() for p in params)


def concat_s(
    model: nn.Module, feats: Mapping[str, Tensor], labels: Tensor
) -> dict[str, tuple[float, float, float]]:
    """Per modality, (mean of s, fraction of s < 1, median of s) over samples and k != y; empty if not concat fusion."""
    fusion = getattr(model, "fusion", None)
    if not isinstance(fusion, ConcatFusion):
        return {}
    weight = fusion.head.weight.detach().double()
    out, start = {}, 0
    for m in fusion.modalities:
        z = feats[m].detach().double()
        w_m = weight[:, start : start + z.shape[1]]
        start += z.shape[1]
        # [eq. 5] s for every sample i and class k != y_i
        scores = z @ w_m.T  # (B, K): W_k^m z^m
        exponent = scores - scores.gather(1, labels[:, None])  # (W_k^m - W_y^m) z^m
        others = torch.ones_like(exponent, dtype=torch.bool).scatter_(1, labels[:, None], False)
        s = exponent[others].exp()
        # [/eq. 5]
        out[m] = (s.mean().item(), (s < 1).double().mean().item(), s.median().item())
    return out


def measure(model: nn.Module, batch: Mapping[str, Any]) -> list[dict[str, Any]]:
    """One row per modality: multimodal and unimodal gradient sizes at its encoder, and s (see module doc)."""
    rows = []
    with preserved_state(model), torch.enable_grad():
        labels = batch["label"]
        feats = model.encode(batch)
        multi = model.loss(model.fuse(feats), labels)
        s = concat_s(model, feats, labels)
        for m in model.modalities:
            params = [p for p in model.encoder_parameters(m) if p.requires_grad]
            uni = model.loss(
                model.fuse(feats, zero=[n for n in model.modalities if n != m]), labels
            )
            s_mean, s_below, s_median = s.get(m, (float("nan"),) * 3)
            rows.append(
                {
                    "modality": m,
                    "grad_multimodal": mean_abs_grad(multi, params),
                    "grad_unimodal": mean_abs_grad(uni, params),
                    "s_mean": s_mean,
                    "s_frac_below_1": s_below,
                    "s_median": s_median,
                }
            )
    return rows


def head_blocks(model: nn.Module) -> dict[str, Tensor]:
    """Per modality, the head weights that read its features: a concat head's column block W^m, or the
    modality's own head (the ``unimodal`` method's ``unimodal_heads``); empty for other heads."""
    own = getattr(model, "unimodal_heads", None)
    if own is not None:
        return {m: head.weight for m, head in own.items() if isinstance(head, nn.Linear)}
    fusion = getattr(model, "fusion", None)
    if not isinstance(fusion, ConcatFusion):
        return {}
    sizes = [model.encoders[m].out_dim for m in fusion.modalities]
    return dict(zip(fusion.modalities, fusion.head.weight.split(sizes, dim=1)))


@torch.no_grad()
def after_step(model: nn.Module) -> dict[str, dict[str, float]]:
    """Per modality, ``grad_applied`` and ``head_block_norm`` right after a step (see the module doc):
    the gradients the step left in ``.grad`` (zeroed only at the next step)."""
    blocks = head_blocks(model)
    rows = {}
    for m in model.modalities:
        params = model.encoder_parameters(m)
        applied = sum(p.grad.abs().sum().item() for p in params if p.grad is not None)
        rows[m] = {
            "grad_applied": applied / sum(p.numel() for p in params),
            "head_block_norm": blocks[m].norm().item() if m in blocks else float("nan"),
        }
    return rows
