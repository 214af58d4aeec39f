"""Training-dynamics diagnostics (the paper's Fig. 1c and Fig. 3), measured without touching training.

Every ``diag_every`` steps the engine calls :func:`measure` on the current batch, just before the
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

The mean is over all parameter entries of the encoder (the official logger instead sums per-tensor
means, after gradient clipping, for the DGL step it applies). Nothing is applied: gradients come from
``torch.autograd.grad`` (``.grad`` is untouched), and the random state and buffers (batch-norm
running statistics) are restored afterwards, so a run with diagnostics follows exactly the same
trajectory as one without.

:func:`plot_dynamics` draws a ``diagnostics.csv`` for the book; it only reads the file.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator, Mapping

import torch
from torch import Tensor, nn

from .models.fusion import ConcatFusion

if TYPE_CHECKING:
    from matplotlib.figure import Figure

COLUMNS = ("epoch", "step", "modality", "grad_multimodal", "grad_unimodal", "s_mean", "s_frac_below_1", "s_median")


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
    """Mean |d loss / d theta| over every entry of ``params`` (unreached parameters count as 0)."""
    grads = torch.autograd.grad(loss, params, retain_graph=True, allow_unused=True)
    total = sum(g.abs().sum().item() for g in grads if g is not None)
    return total / sum(p.numel() for p in params)


def concat_s(model: nn.Module, feats: Mapping[str, Tensor], labels: Tensor) -> dict[str, tuple[float, float, float]]:
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
        scores = z @ w_m.T  # (B, K): W_k^m z^m
        exponent = scores - scores.gather(1, labels[:, None])  # (W_k^m - W_y^m) z^m
        others = torch.ones_like(exponent, dtype=torch.bool).scatter_(1, labels[:, None], False)
        s = exponent[others].exp()
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
            uni = model.loss(model.fuse(feats, zero=[n for n in model.modalities if n != m]), labels)
            s_mean, s_below, s_median = s.get(m, (float("nan"),) * 3)
            rows.append({
                "modality": m,
                "grad_multimodal": mean_abs_grad(multi, params),
                "grad_unimodal": mean_abs_grad(uni, params),
                "s_mean": s_mean,
                "s_frac_below_1": s_below,
                "s_median": s_median,
            })
    return rows


def plot_dynamics(csv_paths: Mapping[str, Path], path: Path | None = None) -> Figure:
    """Fig. 3-style panels from ``diagnostics.csv`` files (``{label: path}``, e.g. per method).

    Columns: s per modality, then the multimodal and the unimodal gradient at each encoder, against
    the epoch (step-level values averaged per epoch). Returns the figure; saves it to ``path`` if given.
    """
    import matplotlib.pyplot as plt
    import pandas as pd

    frames = {label: pd.read_csv(p).groupby(["modality", "epoch"]).mean(numeric_only=True) for label, p in csv_paths.items()}
    modalities = list(dict.fromkeys(m for f in frames.values() for m in f.index.get_level_values("modality")))
    panels = [("s_mean", "mean s (k != y)"), ("grad_multimodal", "|grad| from multimodal loss"),
              ("grad_unimodal", "|grad| from unimodal loss")]
    fig, axes = plt.subplots(len(modalities), len(panels), figsize=(4 * len(panels), 2.8 * len(modalities)),
                             squeeze=False, sharex=True)
    for row, m in enumerate(modalities):
        for col, (column, title) in enumerate(panels):
            ax = axes[row, col]
            for label, frame in frames.items():
                if m in frame.index.get_level_values("modality"):
                    series = frame.loc[m, column]
                    ax.plot(series.index, series.values, label=label)
            ax.set_title(f"{m}: {title}", fontsize=9)
            if column != "s_mean":
                ax.set_yscale("log")
            if row == len(modalities) - 1:
                ax.set_xlabel("epoch")
    axes[0, 0].legend(fontsize=8)
    fig.tight_layout()
    if path is not None:
        fig.savefig(path, dpi=150)
    return fig


def gradient_ratio_curves(run_dirs: list[Path], modality: str) -> "pandas.DataFrame":
    """``grad_multimodal / grad_unimodal`` at ``modality``'s encoder per epoch, one column per run."""
    from .report import epoch_curves

    multi = epoch_curves(run_dirs, "grad_multimodal", "diagnostics.csv", modality)
    return multi / epoch_curves(run_dirs, "grad_unimodal", "diagnostics.csv", modality)


def _modalities(run_dir: Path) -> list[str]:
    import pandas as pd

    return list(dict.fromkeys(pd.read_csv(Path(run_dir) / "diagnostics.csv")["modality"]))


def plot_gradient_ratio(run_dirs: list[Path], title: str = "") -> Figure:
    """:func:`gradient_ratio_curves` per encoder against the epoch, one thin line per run (e.g. per
    seed) and their mean thick; eq. 8 says the ratio stays below 1."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3))
    for i, m in enumerate(_modalities(run_dirs[0])):
        ratios = gradient_ratio_curves(run_dirs, m)
        ax.plot(ratios.index, ratios.values, color=f"C{i}", alpha=0.3, linewidth=0.8)
        ax.plot(ratios.index, ratios.mean(axis=1), color=f"C{i}", linewidth=2, label=f"encoder {m}")
    ax.axhline(1, color="k", linewidth=0.8, linestyle="--")
    ax.set(yscale="log", xlabel="epoch", ylabel="|grad multimodal| / |grad unimodal|", title=title)
    ax.legend(frameon=False)
    return fig


def gradient_ratio_by_epoch(run_dirs: list[Path], epochs: list[int]) -> "pandas.DataFrame":
    """:func:`gradient_ratio_curves` at the given epochs (negative counts from the end), one row per
    encoder, "mean ± std" over runs."""
    from .report import mean_std_table

    rows = []
    for m in _modalities(run_dirs[0]):
        ratios = gradient_ratio_curves(run_dirs, m)
        rows += [{"encoder": m, **{f"epoch {ratios.index[e]}": ratios[run].iloc[e] for e in epochs}} for run in ratios]
    return mean_std_table(rows, by="encoder")


def eq8_on_run(run_dir: Path, split: str = "test") -> dict[str, dict[str, float]]:
    """Where eq. 5 and eq. 8 hold on a trained concat model's ``split`` features, per modality."""
    from . import engine, theory
    from .data import load_dataset
    from .experiment import load_trained

    model, config = load_trained(run_dir)
    if not isinstance(model.fusion, ConcatFusion):
        raise ValueError(f"eq. 8 is derived for concat fusion; {run_dir} used {config.fusion!r}")
    data = load_dataset(config.dataset, split, profile=config.profile, data_root=config.data_root, seed=config.data_seed)
    feats, labels = engine.encode_split(model, engine.make_loader(data, 1000, shuffle=False), torch.device("cpu"))
    feats = {m: torch.as_tensor(feats[m], dtype=torch.float64) for m in model.modalities}
    head = model.fusion.head
    return theory.eq8_on_features(head.weight.detach().double(), head.bias.detach().double(), feats, torch.as_tensor(labels))


def eq8_table_on_runs(run_dirs: list[Path], split: str = "test") -> "pandas.DataFrame":
    """:func:`eq8_on_run` over several runs (e.g. seeds): one row per modality, "mean ± std"."""
    from .report import mean_std_table

    rows = [{"encoder": m, **fractions} for d in run_dirs for m, fractions in eq8_on_run(d, split).items()]
    return mean_std_table(rows, by="encoder")
