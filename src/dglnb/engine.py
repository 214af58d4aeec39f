"""The training loop: seeding, data loaders, optimiser and schedule, evaluation, checkpoints, logs.

The engine owns the loop; a method (``dglnb.methods``) owns one training step. Per epoch:
``method.on_epoch_start``, then ``method.train_step`` on every batch (with optional diagnostics
measured just before it), a learning-rate schedule step, evaluation on val and test, one row of
``history.csv`` and a checkpoint ``last.pt``. At the end the selected epoch's model is restored and
a linear probe is fitted per modality on its frozen features (classification only).

Model selection: ``selection="val"`` (default) keeps the epoch with the best validation accuracy;
``selection="test"`` keeps the best *test* accuracy, as the official code does (an optimistic
estimate: the maximum over epochs of a noisy test score, reported as the result).

Schedule: ``MultiStepLR`` stepped after every epoch, so with ``milestones=(70,)`` epochs 0-69 run
at ``lr`` and epochs 70-99 at ``gamma * lr``. (The official code steps its scheduler at the start
of an epoch, which moves the decay one epoch earlier.)
"""

from __future__ import annotations

import contextlib
import copy
import csv
import json
import os
import random
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator

import numpy as np
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits
from torch import nn
from torch.utils.data import DataLoader, Dataset
from tqdm import tqdm

from . import diagnostics, metrics

if TYPE_CHECKING:
    from .experiment import TrainConfig

Batch = dict[str, Any]
SELECTIONS = ("val", "test")
OPTIMIZERS = ("sgd", "adam")


# ----------------------------------------------------------------------------- determinism


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch (CPU and CUDA) and ask cuDNN for deterministic kernels."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    torch.backends.cudnn.deterministic = True
    torch.backends.cudnn.benchmark = False


def rng_state() -> dict[str, Any]:
    """The global random states (to checkpoint)."""
    state = {"python": random.getstate(), "numpy": np.random.get_state(), "torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    """Restore the states saved by :func:`rng_state`."""
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def _seed_worker(worker_id: int) -> None:
    """Give each DataLoader worker NumPy/Python seeds derived from its torch seed."""
    seed = torch.initial_seed() % 2**32
    np.random.seed(seed)
    random.seed(seed)


def epoch_seed(seed: int, epoch: int) -> int:
    """The shuffling seed of one epoch (so a resumed run shuffles exactly as an uninterrupted one)."""
    return seed * 100_003 + epoch


def make_loader(dataset: Dataset, batch_size: int, *, shuffle: bool, seed: int = 0, num_workers: int = 0) -> DataLoader:
    """A DataLoader with its own generator and seeded workers; the last partial batch is kept."""
    generator = torch.Generator()
    generator.manual_seed(seed)
    return DataLoader(
        dataset, batch_size=batch_size, shuffle=shuffle, num_workers=num_workers,
        generator=generator, worker_init_fn=_seed_worker, drop_last=False,
    )


# ----------------------------------------------------------------------------- optimisation


def build_optimizer(method: Any, model: nn.Module, config: TrainConfig) -> torch.optim.Optimizer:
    """``config.optimizer`` over the method's parameter groups: ``"sgd"`` with momentum and weight decay
    (the official code's), or ``"adam"`` with weight decay (the paper's ESANet setting; ``momentum`` is
    unused). Gradient clipping, when configured, is done by the method inside its step."""
    groups = method.param_groups(model, config.lr)
    if config.optimizer == "sgd":
        return torch.optim.SGD(groups, lr=config.lr, momentum=config.momentum, weight_decay=config.weight_decay)
    if config.optimizer == "adam":
        return torch.optim.Adam(groups, lr=config.lr, weight_decay=config.weight_decay)
    raise ValueError(f"unknown optimizer {config.optimizer!r}; valid optimizers: {', '.join(OPTIMIZERS)}")


def autocast(device: torch.device) -> contextlib.AbstractContextManager:
    """bf16 autocast on CUDA; nothing on CPU."""
    if device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


def to_device(batch: Batch, device: torch.device) -> Batch:
    """Move a batch's tensors to ``device`` (ids stay a list of str)."""
    return {k: v.to(device, non_blocking=True) if torch.is_tensor(v) else v for k, v in batch.items()}


# ----------------------------------------------------------------------------- evaluation


@torch.no_grad()
def evaluate(model: nn.Module, method: Any, loader: DataLoader, device: torch.device) -> dict[str, float]:
    """Scores of every head ``method.predict`` returns, over the whole loader, by ``model.task``
    (:mod:`dglnb.metrics`): the primary score under the head's name (accuracy, a fraction; mIoU for
    segmentation), any other as ``"<head>/<metric>"``."""
    model.eval()
    scorers: dict[str, metrics.Scorer] = {}
    for batch in loader:
        batch = to_device(batch, device)
        with autocast(device):
            logits = method.predict(model, batch)
        for head, out in logits.items():
            scorers.setdefault(head, metrics.scorer_class(model.task)()).update(out, batch["label"])
    return metrics.flat_scores(scorers)


@torch.no_grad()
def encode_split(model: nn.Module, loader: DataLoader, device: torch.device) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Frozen encoder features (eval mode) of every sample, per modality, and the labels."""
    model.eval()
    feats: dict[str, list[np.ndarray]] = {}
    labels = []
    for batch in loader:
        batch = to_device(batch, device)
        with autocast(device):
            z = model.encode(batch)
        for m, v in z.items():
            feats.setdefault(m, []).append(v.float().cpu().numpy())
        labels.append(batch["label"].cpu().numpy())
    return {m: np.concatenate(v) for m, v in feats.items()}, np.concatenate(labels)


def linear_probe(model: nn.Module, train: DataLoader, test: DataLoader, device: torch.device) -> dict[str, float]:
    """Per modality: test accuracy of a logistic regression fitted on frozen train-split features."""
    x_train, y_train = encode_split(model, train, device)
    x_test, y_test = encode_split(model, test, device)
    scores = {}
    with threadpool_limits(1):  # BLAS threads fighting torch's idle OpenMP threads make lbfgs ~10x slower
        for m in x_train:
            probe = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
            probe.fit(x_train[m], y_train)
            scores[m] = float(probe.score(x_test[m], y_test))
    return scores


def selection_score(scores: dict[str, float]) -> float:
    """The number model selection maximises: the multimodal head's primary score (accuracy, or mIoU),
    else the mean over the heads' primary scores."""
    if "multimodal" in scores:
        return scores["multimodal"]
    primary = [v for k, v in scores.items() if "/" not in k]
    return sum(primary) / len(primary)


# ----------------------------------------------------------------------------- files


def atomic_save(obj: Any, path: Path) -> None:
    """``torch.save`` to a temporary file, then rename it over ``path`` (never a half-written file)."""
    tmp = path.with_name(path.name + ".tmp")
    torch.save(obj, tmp)
    os.replace(tmp, path)


def atomic_write_json(obj: Any, path: Path) -> None:
    """Write ``obj`` as indented JSON through a temporary file and a rename."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(obj, indent=2) + "\n")
    os.replace(tmp, path)


class CsvLog:
    """Append-only CSV whose header is the first row's keys; ``keep_until`` drops rows of later epochs
    (left by a run that stopped between writing a row and writing its checkpoint)."""

    def __init__(self, path: Path, keep_until: int | None = None) -> None:
        self.path = path
        if keep_until is None:
            path.unlink(missing_ok=True)
        elif path.exists():
            with path.open(newline="") as f:
                rows = [r for r in csv.DictReader(f) if int(r["epoch"]) <= keep_until]
            path.unlink()
            self.write(rows)

    def write(self, rows: list[dict[str, Any]]) -> None:
        if not rows:
            return
        new = not self.path.exists()
        with self.path.open("a", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=list(rows[0]))
            if new:
                writer.writeheader()
            writer.writerows(rows)


# ----------------------------------------------------------------------------- the loop


def _prefixed(prefix: str, values: dict[str, float]) -> dict[str, float]:
    return {f"{prefix}_{k}": v for k, v in values.items()}


def _batches(loader: DataLoader, max_steps: int | None) -> Iterator[Batch]:
    for i, batch in enumerate(loader):
        if max_steps is not None and i >= max_steps:
            return
        yield batch


def fit(model: nn.Module, method: Any, loaders: dict[str, DataLoader], config: TrainConfig, out: Path) -> dict[str, Any]:
    """Train ``model`` with ``method`` for ``config.epochs`` epochs, logging and checkpointing into ``out``.

    ``loaders`` holds ``train`` (shuffled), ``val``, ``test`` and ``train_eval`` (the train split in a
    fixed order, for the linear probe). Val and test are evaluated after every epoch (history.csv
    shows both); with ``selection="val"`` the test numbers only serve to report the selected epoch.
    ``history.csv`` columns: ``epoch``, ``lr`` (the scheduled base lr), ``train_<loss>`` (the method's
    losses averaged over the epoch), ``val_<head>``, ``test_<head>`` (per head of ``method.predict``,
    its primary score: accuracy, or mIoU for segmentation, which adds ``val_<head>/pixel_accuracy``
    and ``test_<head>/pixel_accuracy``; see :func:`evaluate`) and ``seconds``. Returns ``best_epoch``,
    ``val_accuracy``, ``test_accuracy`` (the selected epoch's :func:`evaluate` dicts) and
    ``linear_probe`` (per modality, on the selected model; None for segmentation, whose features are
    dense maps).
    """
    if config.selection not in SELECTIONS:
        raise ValueError(f"unknown selection {config.selection!r}; valid selections: {', '.join(SELECTIONS)}")
    device = torch.device(config.device)
    optimizer = build_optimizer(method, model, config)
    scheduler = torch.optim.lr_scheduler.MultiStepLR(optimizer, milestones=list(config.milestones), gamma=config.gamma)
    state: dict[str, Any] = {"epoch": -1, "step": 0, "best": None}

    checkpoint = out / "last.pt"
    if config.resume and checkpoint.exists():
        saved = torch.load(checkpoint, map_location=device, weights_only=False)
        model.load_state_dict(saved["model"])
        optimizer.load_state_dict(saved["optimizer"])
        scheduler.load_state_dict(saved["scheduler"])
        method.load_state_dict(saved["method"])
        set_rng_state(saved["rng"])
        state = {k: saved[k] for k in state}
    resumed_at = state["epoch"] if config.resume else None
    history = CsvLog(out / "history.csv", keep_until=resumed_at)
    diag_log = CsvLog(out / "diagnostics.csv", keep_until=resumed_at)

    epochs = tqdm(range(state["epoch"] + 1, config.epochs), desc="epochs", disable=not config.progress)
    for epoch in epochs:
        started = time.perf_counter()
        loaders["train"].generator.manual_seed(epoch_seed(config.seed, epoch))
        model.train()
        method.on_epoch_start(epoch, model, loaders["train"])
        sums: dict[str, float] = {}
        steps = 0
        lr = config.lr * scheduler.get_last_lr()[0] / optimizer.param_groups[0]["initial_lr"]  # scheduled base lr
        batches = tqdm(_batches(loaders["train"], config.max_steps), desc=f"epoch {epoch}", leave=False,
                       disable=not config.progress)
        for batch in batches:
            batch = to_device(batch, device)
            if config.diag_every and state["step"] % config.diag_every == 0:
                diag_log.write([{"epoch": epoch, "step": state["step"], **row} for row in diagnostics.measure(model, batch)])
            with autocast(device):
                logs = method.train_step(model, batch, optimizer)
            for k, v in logs.items():
                sums[k] = sums.get(k, 0.0) + float(v)
            steps += 1
            state["step"] += 1
        scheduler.step()

        val = evaluate(model, method, loaders["val"], device)
        test = evaluate(model, method, loaders["test"], device)
        score = selection_score(val if config.selection == "val" else test)
        if state["best"] is None or score > state["best"]["score"]:
            state["best"] = {"epoch": epoch, "score": score, "val": val, "test": test,
                             "model": copy.deepcopy(model.state_dict())}
        state["epoch"] = epoch
        train_logs = {k: v / max(steps, 1) for k, v in sums.items()}
        history.write([{"epoch": epoch, "lr": lr, **_prefixed("train", train_logs), **_prefixed("val", val),
                        **_prefixed("test", test), "seconds": round(time.perf_counter() - started, 3)}])
        atomic_save({**state, "model": model.state_dict(), "optimizer": optimizer.state_dict(),
                     "scheduler": scheduler.state_dict(), "method": method.state_dict(), "rng": rng_state()},
                    checkpoint)
        epochs.set_postfix(val=f"{selection_score(val):.3f}", test=f"{selection_score(test):.3f}")

    best = state["best"]
    model.load_state_dict(best["model"])
    atomic_save({"epoch": best["epoch"], "model": best["model"]}, out / "best.pt")
    probe = None
    if model.task == "classification":
        probe = linear_probe(model, loaders["train_eval"], loaders["test"], device)
    return {"best_epoch": best["epoch"], "val_accuracy": best["val"], "test_accuracy": best["test"],
            "linear_probe": probe}

