"""The interface every training method implements; the training loop (dglnb.train.loop) owns the loop around it.

A batch is a dict: one float tensor per modality, ``"label"`` (long tensor) and ``"id"`` (list of str).
A subclass usually writes only :meth:`Method.compute_gradients`; the base class wraps it into one
optimisation step (zero the gradients, compute them, optionally clip, step). A method with
per-epoch work (prototypes, loss weights estimated on held-out data) overrides
:meth:`Method.on_epoch_start`, which sees every loader and the optimizer, and keeps what later
steps depend on in :meth:`Method.state_dict` so that a resumed run continues exactly.

A method whose published hyperparameters differ per dataset lists them in ``PUBLISHED`` and
resolves its ``None`` arguments with :meth:`Method.set_published`; the run (dglnb.train.run) passes the dataset name.
"""

from __future__ import annotations

import inspect
from typing import Any, ClassVar, Iterable, Mapping

import torch
from torch import Tensor, nn

from ..models import MultimodalClassifier

Batch = Mapping[str, Any]


class Method:
    """Joint-training defaults; ``dataset`` (the run's dataset name, or None) selects the
    ``PUBLISHED`` hyperparameters. A method that weights unimodal losses (the DGL family) or scales
    the encoders' step by them (``vanilla_lr``) takes the run's ``alpha`` in its own constructor;
    the others have none, so an ``alpha`` never tells their runs apart (:meth:`takes`)."""

    #: Published hyperparameters by dataset name; ``"*"`` holds those for any other dataset.
    PUBLISHED: ClassVar[dict[str, dict[str, Any]]] = {}
    #: Run settings (TrainConfig fields) a constructor may take besides the method's own options.
    RUN_SETTINGS: ClassVar[tuple[str, ...]] = ("alpha", "grad_clip", "dataset")

    def __init__(
        self, grad_clip: float | None = None, dataset: str | None = None, **kw: Any
    ) -> None:
        if kw:
            raise TypeError(
                f"{type(self).__name__} got unknown hyperparameters: {', '.join(sorted(kw))}; "
                f"valid: {', '.join(type(self).options()) or 'none'}"
            )
        if grad_clip is not None and grad_clip <= 0:
            raise ValueError(f"grad_clip must be positive or None, got {grad_clip}")
        self.grad_clip = grad_clip
        self.dataset = dataset

    @classmethod
    def arguments(cls) -> set[str]:
        """Every keyword argument the constructors of the class and its bases take."""
        return {
            name
            for klass in cls.__mro__
            if "__init__" in vars(klass) and klass is not object
            for name, p in inspect.signature(klass.__init__).parameters.items()
            if name != "self" and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
        }

    @classmethod
    def options(cls) -> list[str]:
        """The method's own hyperparameters (``method_options``), sorted: what its constructors take
        beyond the run settings (:data:`RUN_SETTINGS`)."""
        return sorted(cls.arguments() - set(cls.RUN_SETTINGS))

    @classmethod
    def takes(cls, setting: str) -> bool:
        """Whether the method's constructor takes the run setting ``setting`` (e.g. ``"alpha"``)."""
        return setting in cls.arguments()

    def set_published(self, **given: Any) -> None:
        """Set each of ``given`` as an attribute, a None replaced by the published value for ``self.dataset``."""
        table = {**self.PUBLISHED.get("*", {}), **self.PUBLISHED.get(self.dataset or "*", {})}
        for name, value in given.items():
            setattr(self, name, table[name] if value is None else value)

    def setup(self, model: MultimodalClassifier) -> None:
        """Attach extra modules to ``model`` before the optimizer is built (none by default)."""

    def param_groups(self, model: MultimodalClassifier, lr: float) -> list[dict]:
        """Optimizer parameter groups; by default one group with every parameter at ``lr``."""
        return [{"params": list(model.parameters()), "lr": lr}]

    def compute_gradients(self, model: MultimodalClassifier, batch: Batch) -> dict[str, Tensor]:
        """Fill ``.grad`` of the parameters for one batch; return the losses (detached)."""
        raise NotImplementedError

    def clip_groups(self, model: MultimodalClassifier) -> dict[str, list[nn.Parameter]]:
        """Named parameter sets whose gradient norms are clipped separately (``"all"`` parameters
        together by default)."""
        return {"all": list(model.parameters())}

    def train_step(
        self, model: MultimodalClassifier, batch: Batch, optimizer: torch.optim.Optimizer
    ) -> dict[str, float]:
        """One optimisation step on ``batch``; returns the losses as floats and, with ``grad_clip``,
        per clipped group its gradient norm before clipping (``grad_norm_<group>``) and the factor the
        clip scaled it by (``clip_factor_<group>``, 1 when the norm is within ``grad_clip``)."""
        optimizer.zero_grad(set_to_none=True)
        logs = {name: float(loss) for name, loss in self.compute_gradients(model, batch).items()}
        if self.grad_clip is not None:
            for group, params in self.clip_groups(model).items():
                # g <- g * min(1, c / |g|) over the group's gradients together (c = grad_clip)
                norm = float(nn.utils.clip_grad_norm_(params, self.grad_clip))
                logs[f"grad_norm_{group}"] = norm
                logs[f"clip_factor_{group}"] = min(1.0, self.grad_clip / (norm + 1e-6))
        optimizer.step()
        return logs

    def predict(self, model: MultimodalClassifier, batch: Batch) -> dict[str, Tensor]:
        """Logits per head: ``"multimodal"`` and, per modality, the same fusion with the others zeroed."""
        feats = model.encode(batch)
        # logits (B, K): W z^tau + b, and per m W phi_tau(theta_tau, z^m, 0) + b (eq. 12/14)
        return {
            "multimodal": model.fuse(feats),
            **{m: model.fuse_alone(feats, m) for m in model.modalities},
        }

    def fused_heads(self, model: MultimodalClassifier) -> dict[str, tuple[str, ...]]:
        """The heads of :meth:`predict` computed by ``model.fuse``, with the modalities each zeroes (for
        scoring each with batch-norm statistics of its own inputs, :mod:`dglnb.train.evaluation`)."""
        return {
            "multimodal": (),
            **{m: tuple(n for n in model.modalities if n != m) for m in model.modalities},
        }

    def on_epoch_start(
        self,
        epoch: int,
        model: MultimodalClassifier,
        loaders: Mapping[str, Iterable],
        optimizer: torch.optim.Optimizer,
    ) -> None:
        """Called before epoch ``epoch``'s steps, with the model in train mode. ``loaders`` maps
        ``train`` (this epoch's shuffle), ``train_eval`` (train in a fixed order), ``val`` and ``test``
        to batch iterables on the CPU; ``optimizer`` is the run's (its settings, e.g. for copies of the
        model). A hook that draws from ``loaders["train"]`` changes this epoch's shuffle, the same way
        in a resumed run. Nothing by default."""

    def state_dict(self) -> dict:
        """The method's own state, for resuming (none by default)."""
        return {}

    def load_state_dict(self, state: dict) -> None:
        if state:
            raise ValueError(
                f"{type(self).__name__} has no state to load, got keys {sorted(state)}"
            )


def checked_alpha(alpha: float) -> float:
    """``alpha``, the weight of the unimodal losses (eq. 15), if it is valid (>= 0); else a ValueError."""
    if alpha < 0:
        raise ValueError(f"alpha must be >= 0, got {alpha}")
    return alpha


def true_class_probability(logits: Tensor, labels: Tensor) -> Tensor:
    """softmax(logits)[i, y_i] for every sample i (every pixel, for dense logits), flattened, leaving out
    positions whose label is no class (an ignore index): the confidence scores of the balancing methods."""
    # logits (B, K, ...) and labels (B, ...)
    labelled = (labels >= 0) & (labels < logits.shape[1])
    # p_i = softmax(logits_i)[y_i]: (B, ...), then the labelled ones, (N,)
    probs = (
        logits.softmax(dim=1)
        .gather(1, labels.clamp(0, logits.shape[1] - 1).unsqueeze(1))
        .squeeze(1)
    )
    return probs[labelled]


def scalar_logs(prefix: str, values: Mapping[str, float]) -> dict[str, Tensor]:
    """``{prefix_key: value}`` as float64 scalars, for a step's returned logs (coefficients, weights)."""
    return {f"{prefix}_{k}": torch.tensor(v, dtype=torch.float64) for k, v in values.items()}
