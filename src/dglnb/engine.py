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

Interruption: ``last.pt`` holds everything the rest of the run depends on after an epoch (model,
optimizer, scheduler, method state, the global random states, the best epoch so far and the log
rows). Epoch ``e`` shuffles with a generator seeded from ``(seed, e)``, so the sampler needs no
saved state; the same generator seeds each data-loader worker's global random states (from
``(seed, e, worker)``), and a dataset's own random draws (CREMA-D's training frame) are a function
of ``(seed, e, sample)`` (:mod:`dglnb.data.draws`), so neither needs saved state either (see
:func:`start_epoch`); bf16 autocast needs no loss scaler, so there is no scaler state. A run
killed at any moment and resumed repeats the unfinished epoch exactly and ends with the same files,
bit for bit. Every file is written whole or not at all (a temporary file, fsync, rename); the logs are
rewritten from the checkpoint, so they never hold a row the checkpoint does not.
"""

from __future__ import annotations

import contextlib
import copy
import csv
import io
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
from .data import draws, to_device
from .errors import CheckpointError, RunStopped

if TYPE_CHECKING:
    from .experiment import TrainConfig

Batch = dict[str, Any]
SELECTIONS = ("val", "test")
OPTIMIZERS = ("sgd", "adam")
LOGS = ("history", "diagnostics", "timing")  # the run folder's CSV logs, kept as rows in the checkpoint
RESUMABLE_CHANGES = ("epochs", "num_workers")  # settings a resumed run may change (train longer, other workers)


# ----------------------------------------------------------------------------- determinism


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch (CPU and CUDA) and ask cuDNN for deterministic kernels."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    torch.backends.cudnn.deterministic = True
    torch.backends.cudnn.benchmark = False


@contextlib.contextmanager
def deterministic_algorithms(enabled: bool) -> Iterator[None]:
    """With ``enabled``, let torch run only deterministic kernels (an op without one raises a
    RuntimeError naming it), restoring the previous setting on exit.

    On a CPU training is deterministic without it. On CUDA it also needs ``CUBLAS_WORKSPACE_CONFIG``
    (set here unless the user set it; cuBLAS reads it when its first handle is created).
    """
    before = torch.are_deterministic_algorithms_enabled()
    if enabled:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.use_deterministic_algorithms(True)
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(before)


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
    """Give each DataLoader worker NumPy/Python seeds derived from its torch seed, which torch sets to
    a base seed drawn from the loader's generator plus ``worker_id``: for the training loader, whose
    generator :func:`start_epoch` reseeds every epoch, a function of (run seed, epoch, worker)."""
    seed = torch.initial_seed() % 2**32
    np.random.seed(seed)
    random.seed(seed)


def epoch_seed(seed: int, epoch: int) -> int:
    """The shuffling seed of one epoch (so a resumed run shuffles exactly as an uninterrupted one)."""
    return seed * 100_003 + epoch


def start_epoch(loader: DataLoader, seed: int, epoch: int) -> None:
    """Make the training ``loader``'s next pass epoch ``epoch`` of the run seeded ``seed``: its
    shuffle, its workers' seeds and its dataset's random draws all follow from (seed, epoch)."""
    loader.generator.manual_seed(epoch_seed(seed, epoch))
    draws.set_epoch(loader.dataset, seed, epoch)


def make_loader(dataset: Dataset, batch_size: int, *, shuffle: bool, seed: int = 0, num_workers: int = 0) -> DataLoader:
    """A DataLoader with its own generator and seeded workers; the last partial batch is kept."""
    generator = torch.Generator()
    generator.manual_seed(seed)
    return DataLoader(
        dataset, batch_size=batch_size, shuffle=shuffle, num_workers=num_workers,
        generator=generator, worker_init_fn=_seed_worker, drop_last=False,
    )


def batches(loader: DataLoader, max_steps: int | None = None) -> Iterator[Batch]:
    """The loader's batches, at most ``max_steps``; a data-loader worker that dies (killed for memory,
    a crash in native code) stops the run with :class:`RunStopped` instead of torch's traceback."""
    iterator = iter(loader)
    step = 0
    while max_steps is None or step < max_steps:
        try:
            batch = next(iterator)
        except StopIteration:
            return
        except RuntimeError as error:
            if loader.num_workers == 0:
                raise
            raise RunStopped(
                f"a data-loader worker failed: {str(error).splitlines()[0]}. Files already written (the last "
                "checkpoint, the logs) are intact. What to do: rerun with --num-workers 0 to see the error in the "
                "main process, or give the workers more memory (a larger /dev/shm); add --resume to continue"
            ) from error
        step += 1
        yield batch


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


# ----------------------------------------------------------------------------- evaluation


@torch.no_grad()
def evaluate(model: nn.Module, method: Any, loader: DataLoader, device: torch.device) -> dict[str, float]:
    """Scores of every head ``method.predict`` returns, over the whole loader, by ``model.task``
    (:mod:`dglnb.metrics`): the primary score under the head's name (accuracy, a fraction; mIoU for
    segmentation), any other as ``"<head>/<metric>"``."""
    model.eval()
    scorers: dict[str, metrics.Scorer] = {}
    for batch in batches(loader):
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
    for batch in batches(loader):
        batch = to_device(batch, device)
        with autocast(device):
            z = model.modality_features(batch)
        for m, v in z.items():
            feats.setdefault(m, []).append(v.float().cpu().numpy())
        labels.append(batch["label"].cpu().numpy())
    return {m: np.concatenate(v) for m, v in feats.items()}, np.concatenate(labels)


def linear_probe(model: nn.Module, train: DataLoader, test: DataLoader, device: torch.device) -> dict[str, float]:
    """Per modality: test accuracy of a logistic regression fitted on frozen train-split features.

    The features are the encoders' in eval mode (batch norm with its running statistics), of the
    inputs ``train`` gives: pass a loader of un-augmented samples (as :func:`fit`'s ``train_eval``)."""
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


def atomic_write(data: bytes, path: Path) -> None:
    """Write ``data`` to ``path`` whole or not at all: a temporary file, fsync, then a rename.

    A failed write (a full disk, a folder gone read-only) leaves the previous ``path`` untouched and
    raises :class:`RunStopped` naming the file and the cause.
    """
    tmp = path.with_name(path.name + ".tmp")
    try:
        with tmp.open("wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError as error:
        tmp.unlink(missing_ok=True)
        raise RunStopped(
            f"could not write {path}: {error.strerror or error}. The previous {path.name} and the other files "
            "already written are intact. What to do: free space (or fix the folder), then rerun with --resume"
        ) from error


def atomic_save(obj: Any, path: Path) -> None:
    """``torch.save`` through :func:`atomic_write` (never a half-written checkpoint)."""
    buffer = io.BytesIO()
    torch.save(obj, buffer)
    atomic_write(buffer.getvalue(), path)


def atomic_write_json(obj: Any, path: Path) -> None:
    """Write ``obj`` as indented JSON through :func:`atomic_write`."""
    atomic_write((json.dumps(obj, indent=2) + "\n").encode(), path)


def atomic_write_csv(rows: list[dict[str, Any]], path: Path) -> None:
    """Write ``rows`` (header: the first row's keys) through :func:`atomic_write`; no rows, no file."""
    if not rows:
        path.unlink(missing_ok=True)
        return
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    atomic_write(text.getvalue().encode(), path)


def load_checkpoint(path: Path, run: dict[str, Any], device: torch.device) -> dict[str, Any]:
    """The checkpoint at ``path``, checked to come from a run with the same settings as ``run``
    (a :meth:`TrainConfig.to_json`; ``RESUMABLE_CHANGES`` may differ); :class:`CheckpointError` if it
    is unreadable or from another run."""
    try:
        saved = torch.load(path, map_location=device, weights_only=False)
    except Exception as error:  # a truncated or foreign file fails in many ways inside torch.load
        raise CheckpointError(
            f"{path} is not a readable checkpoint ({type(error).__name__}: {str(error).splitlines()[0]}). What to "
            "do: delete it to start the run over, or resume from another --out"
        ) from error
    if not isinstance(saved, dict) or "config" not in saved:
        raise CheckpointError(f"{path} is not a dglnb checkpoint. What to do: delete it, or use another --out")
    differences = [f"{k}={saved['config'].get(k)!r} there, {v!r} here" for k, v in run.items()
                   if k not in RESUMABLE_CHANGES and saved["config"].get(k) != v]
    if differences:
        raise CheckpointError(
            f"{path} was written by a run with other settings ({'; '.join(differences)}). What to do: resume with "
            "the checkpoint's settings, use another --out, or leave out --resume to start over"
        )
    return saved


def write_logs(state: dict[str, Any], out: Path) -> None:
    """Render the log rows kept in ``state`` as ``history.csv``, ``diagnostics.csv`` and ``timing.csv``."""
    for name in LOGS:
        atomic_write_csv(state[name], out / f"{name}.csv")


# ----------------------------------------------------------------------------- the loop


def _prefixed(prefix: str, values: dict[str, float]) -> dict[str, float]:
    return {f"{prefix}_{k}": v for k, v in values.items()}


def fit(model: nn.Module, method: Any, loaders: dict[str, DataLoader], config: TrainConfig, out: Path) -> dict[str, Any]:
    """Train ``model`` with ``method`` for ``config.epochs`` epochs, logging and checkpointing into ``out``.

    ``loaders`` holds ``train`` (shuffled; set up per epoch by :func:`start_epoch`), ``val``,
    ``test`` and ``train_eval`` (the train split in a fixed order, for the linear probe: a dataset
    object of its own, never told an epoch, so its inputs are un-augmented). Val and test are
    evaluated after every epoch (history.csv shows both); with ``selection="val"`` the test numbers only serve to report the selected epoch.
    ``history.csv`` columns: ``epoch``, ``lr`` (the scheduled base lr), ``train_<loss>`` (the method's
    losses averaged over the epoch), ``val_<head>``, ``test_<head>`` (per head of ``method.predict``,
    its primary score: accuracy, or mIoU for segmentation, which adds ``val_<head>/pixel_accuracy``
    and ``test_<head>/pixel_accuracy``; see :func:`evaluate`); wall-clock seconds per epoch go to
    ``timing.csv``, so that history.csv is the same, bit for bit, on every run with the same
    settings. With ``config.resume`` the run continues from ``out/last.pt`` when there is one (see
    :func:`load_checkpoint`). Returns ``best_epoch``, ``val_accuracy``, ``test_accuracy`` (the
    selected epoch's :func:`evaluate` dicts) and ``linear_probe`` (per modality, on the selected
    model; None for segmentation, whose features are dense maps).
    """
    if config.selection not in SELECTIONS:
        raise ValueError(f"unknown selection {config.selection!r}; valid selections: {', '.join(SELECTIONS)}")
    device = torch.device(config.device)
    optimizer = build_optimizer(method, model, config)
    scheduler = torch.optim.lr_scheduler.MultiStepLR(optimizer, milestones=list(config.milestones), gamma=config.gamma)
    state: dict[str, Any] = {"epoch": -1, "step": 0, "best": None, **{name: [] for name in LOGS}}

    checkpoint = out / "last.pt"
    if config.resume and checkpoint.exists():
        saved = load_checkpoint(checkpoint, config.to_json(), device)
        model.load_state_dict(saved["model"])
        optimizer.load_state_dict(saved["optimizer"])
        scheduler.load_state_dict(saved["scheduler"])
        method.load_state_dict(saved["method"])
        set_rng_state(saved["rng"])
        state = {k: saved[k] for k in state}
    write_logs(state, out)  # drops rows a killed run wrote after its last checkpoint, and a new run's stale files

    epochs = tqdm(range(state["epoch"] + 1, config.epochs), desc="epochs", disable=not config.progress)
    for epoch in epochs:
        started = time.perf_counter()
        start_epoch(loaders["train"], config.seed, epoch)
        model.train()
        method.on_epoch_start(epoch, model, loaders, optimizer)
        sums: dict[str, float] = {}
        steps = 0
        lr = config.lr * scheduler.get_last_lr()[0] / optimizer.param_groups[0]["initial_lr"]  # scheduled base lr
        progress = tqdm(batches(loaders["train"], config.max_steps), desc=f"epoch {epoch}", leave=False,
                        disable=not config.progress)
        for batch in progress:
            batch = to_device(batch, device)
            if config.diag_every and state["step"] % config.diag_every == 0:
                state["diagnostics"] += [{"epoch": epoch, "step": state["step"], **row}
                                         for row in diagnostics.measure(model, batch)]
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
        state["history"].append({"epoch": epoch, "lr": lr, **_prefixed("train", train_logs), **_prefixed("val", val),
                                 **_prefixed("test", test)})
        state["timing"].append({"epoch": epoch, "seconds": round(time.perf_counter() - started, 3)})
        atomic_save({**state, "model": model.state_dict(), "optimizer": optimizer.state_dict(),
                     "scheduler": scheduler.state_dict(), "method": method.state_dict(), "rng": rng_state(),
                     "config": config.to_json()}, checkpoint)
        write_logs(state, out)
        epochs.set_postfix(val=f"{selection_score(val):.3f}", test=f"{selection_score(test):.3f}")

    best = state["best"]
    model.load_state_dict(best["model"])
    atomic_save({"epoch": best["epoch"], "model": best["model"]}, out / "best.pt")
    probe = None
    if model.task == "classification":
        probe = linear_probe(model, loaders["train_eval"], loaders["test"], device)
    return {"best_epoch": best["epoch"], "val_accuracy": best["val"], "test_accuracy": best["test"],
            "linear_probe": probe}
