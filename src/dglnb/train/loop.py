"""The training loop: the epochs, evaluation, model selection (the optimiser and schedule are set up by
:mod:`dglnb.train.training`).

The loop owns the epochs; a method (``dglnb.methods``) owns one training step. Per epoch:
``method.on_epoch_start``, then ``method.train_step`` on every batch (with optional diagnostics
measured just before it), a learning-rate schedule step, evaluation on val (and on test when test
selects the epoch), one row of ``history.csv`` and a checkpoint ``last.pt``. At the end the selected
epoch's model is restored, scored on val and test (:mod:`dglnb.train.evaluation`) and a linear probe
is fitted per modality on its frozen features (classification only).

Model selection: ``selection="val"`` (default) keeps the epoch with the best validation score (the
task's primary metric: accuracy, or mIoU for segmentation); ``selection="test"`` keeps the best
*test* score, as the official code does (an optimistic estimate: the maximum over epochs of a noisy
test score, reported as the result).

Schedule: ``MultiStepLR`` stepped after every epoch, so with ``milestones=(70,)`` epochs 0-69 run
at ``lr`` and epochs 70-99 at ``gamma * lr``. (The official code steps its scheduler at the start
of an epoch, which moves the decay one epoch earlier.)

Interruption: ``last.pt`` holds everything the rest of the run depends on after an epoch (model,
optimizer, scheduler, method state, the global random states, the best epoch so far and the log
rows). Epoch ``e`` shuffles with a generator seeded from ``(seed, e)``, so the sampler needs no
saved state; the same generator seeds each data-loader worker's global random states (from
``(seed, e, worker)``), and a dataset's own random draws (CREMA-D's training frame) are a function
of ``(seed, e, sample)`` (:mod:`dglnb.data.draws`), so neither needs saved state either (see
:func:`dglnb.train.loaders.start_epoch`); bf16 autocast needs no loss scaler, so there is no scaler state. A run
killed at any moment and resumed repeats the unfinished epoch exactly and ends with the same files,
bit for bit. Every file is written whole (:mod:`dglnb.train.checkpoint`) or not at all (a temporary
file, fsync, rename); the logs are rewritten from the checkpoint, so they never hold a row the checkpoint does not.
"""

from __future__ import annotations

import copy
import time
from pathlib import Path
from typing import Any

from torch import nn
from torch.utils.data import DataLoader

from ..config import TrainConfig
from ..data import to_device
from ..data.augment import Augment, step_generator
from ..progress import progress
from . import distributed, gradients
from .checkpoint import atomic_save, write_logs
from .determinism import rng_state
from .device import autocast
from .evaluation import evaluate, final_scores, selection_score
from .loaders import batches, start_epoch
from .probe import decoder_probe, linear_probe
from .speed import batch_channels_last
from .training import Training, build_optimizer, prepare, restore

# with a run's set-up (dglnb.train.training), which fit runs first
__all__ = [
    "Training",
    "build_optimizer",
    "end_epoch",
    "finish",
    "fit",
    "prepare",
    "restore",
    "train_epoch",
]


def _prefixed(prefix: str, values: dict[str, float]) -> dict[str, float]:
    return {f"{prefix}_{k}": v for k, v in values.items()}


def train_epoch(training: Training, epoch: int) -> dict[str, float]:
    """Epoch ``epoch``'s training steps: the method's epoch hook, then one step per batch (augmented,
    with gradient diagnostics every ``diag_every`` steps); the method's losses averaged over the
    epoch's steps and the ranks."""
    model, method, config, state = training.model, training.method, training.config, training.state
    augment = Augment()
    kinds = training.loaders["train"].dataset.info.kinds if config.augment else {}
    start_epoch(training.loaders["train"], config.seed, epoch)
    model.train()
    method.on_epoch_start(epoch, model, training.loaders, training.optimizer)
    sums: dict[str, float] = {}
    steps = 0
    steps_bar = progress(
        batches(training.loaders["train"], config.max_steps),
        desc=f"epoch {epoch}",
        unit="step",
        leave=False,
        enabled=config.progress,
    )
    for batch in steps_bar:
        batch = to_device(batch, training.device)
        if training.channels_last:
            batch = batch_channels_last(batch)
        if config.augment:  # the training batch only; the draws follow from (seed, epoch, step)
            batch = augment.batch(batch, kinds, step_generator(config.seed, epoch, state["step"]))
        diagnose = config.diag_every and state["step"] % config.diag_every == 0
        if diagnose:
            rows = gradients.measure(model, batch)
        training.local_batch = len(batch["label"])
        with autocast(training.device):
            logs = method.train_step(model, batch, training.optimizer)
        if diagnose:
            applied = gradients.after_step(model)
            state["diagnostics"] += [
                {"epoch": epoch, "step": state["step"], **row, **applied[row["modality"]]}
                for row in rows
            ]
        for k, v in logs.items():
            sums[k] = sums.get(k, 0.0) + float(v)
        steps += 1
        state["step"] += 1
    return distributed.mean_over_ranks(
        {k: v / max(steps, 1) for k, v in sums.items()}, training.device
    )


def end_epoch(
    training: Training, epoch: int, train_logs: dict[str, float], seconds: float
) -> dict[str, float]:
    """After epoch ``epoch``'s steps: the schedule's step, evaluation on val and test, the best epoch
    so far, the log rows, then ``last.pt`` and the logs written (by the writing rank); returns the
    validation and test selection scores."""
    model, method, config, state = training.model, training.method, training.config, training.state
    optimizer, scheduler = training.optimizer, training.scheduler
    # the epoch's base lr, as scheduled
    lr = config.lr * scheduler.get_last_lr()[0] / optimizer.param_groups[0]["initial_lr"]
    scheduler.step()
    val = evaluate(model, method, training.loaders["val"], training.device)
    # the test split is scored per epoch only where it selects the epoch (the official protocol);
    # otherwise once, on the selected model (finish)
    test = {}
    if config.selection == "test":
        test = evaluate(model, method, training.loaders["test"], training.device)
    score = selection_score(val if config.selection == "val" else test)
    if state["best"] is None or score > state["best"]["score"]:
        state["best"] = {"epoch": epoch, "score": score, "model": copy.deepcopy(model.state_dict())}
    state["epoch"] = epoch
    state["history"].append(
        {
            "epoch": epoch,
            "lr": lr,
            **_prefixed("train", train_logs),
            **_prefixed("val", val),
            **_prefixed("test", test),
        }
    )
    state["timing"].append({"epoch": epoch, "seconds": round(seconds, 3)})
    if distributed.is_writer():
        atomic_save(
            {
                **state,
                "model": model.state_dict(),
                "optimizer": optimizer.state_dict(),
                "scheduler": scheduler.state_dict(),
                "method": method.state_dict(),
                "rng": rng_state(),
                "config": config.to_json(),
            },
            training.checkpoint,
        )
        write_logs(state, training.out)
    return {"val": selection_score(val), **({"test": selection_score(test)} if test else {})}


def finish(training: Training) -> dict[str, Any]:
    """The selected epoch's model restored (and, by the writing rank, saved as ``best.pt``), scored on
    val and test (:func:`~dglnb.train.evaluation.final_scores`), with a linear probe per modality on
    its frozen features (classification only); :func:`fit`'s result."""
    best, model = training.state["best"], training.model
    model.load_state_dict(best["model"])
    scores = final_scores(model, training.method, training.loaders, training.device)
    probe = {}
    if distributed.is_writer():
        atomic_save({"epoch": best["epoch"], "model": best["model"]}, training.out / "best.pt")
        probes = (training.loaders["train_eval"], training.loaders["test"], training.device)
        if model.task == "classification":
            probe = {"linear_probe": linear_probe(model, *probes)}
        else:
            config = training.config
            probe = {
                "decoder_probe": decoder_probe(
                    model,
                    *probes,
                    epochs=config.epochs,
                    lr=config.lr,
                    batch_size=config.batch_size,
                    seed=config.seed,
                )
            }
    return {
        "best_epoch": best["epoch"],
        **{f"{split}_scores": v for split, v in scores.items()},
        **probe,
    }


def fit(
    model: nn.Module, method: Any, loaders: dict[str, DataLoader], config: TrainConfig, out: Path
) -> dict[str, Any]:
    """Train ``model`` with ``method`` for ``config.epochs`` epochs, logging and checkpointing into ``out``.

    ``loaders`` holds ``train`` (shuffled; set up per epoch by :func:`~dglnb.train.loaders.start_epoch`), ``val``,
    ``test`` and ``train_eval`` (the train split in a fixed order, for the linear probe: a dataset
    object of its own, never told an epoch, so its inputs are un-augmented). Val is evaluated after
    every epoch, test too when it selects the epoch (``selection="test"``); otherwise test is scored
    once, on the selected model.
    ``history.csv`` columns: ``epoch``, ``lr`` (the scheduled base lr), ``train_<loss>`` (the method's
    losses averaged over the epoch), ``val_<head>``, and with ``selection="test"`` ``test_<head>``
    (per head of ``method.predict``, its primary score: accuracy, or mIoU for segmentation, which
    adds ``val_<head>/pixel_accuracy`` and ``test_<head>/pixel_accuracy``; see
    :func:`~dglnb.train.evaluation.evaluate`); wall-clock seconds per epoch go to ``timing.csv``, so
    that history.csv is the same, bit for bit, on every run with the same settings. With
    ``config.resume`` the run continues from ``out/last.pt`` when there is one (see
    :func:`~dglnb.train.checkpoint.load_checkpoint`). Returns ``best_epoch``, ``val_scores``,
    ``test_scores`` (the selected model's
    :func:`~dglnb.train.evaluation.final_scores`) and ``linear_probe`` (per modality, on the selected
    model; classification) or ``decoder_probe`` (segmentation).

    The run in steps: :func:`~dglnb.train.training.prepare`, :func:`~dglnb.train.training.restore`,
    then :func:`train_epoch` and :func:`end_epoch` per epoch, and :func:`finish`.
    """
    training = prepare(model, method, loaders, config, out)
    restore(training)
    epochs = progress(
        range(training.state["epoch"] + 1, config.epochs),
        desc="epochs",
        unit="epoch",
        enabled=config.progress,
    )
    for epoch in epochs:
        started = time.perf_counter()
        train_logs = train_epoch(training, epoch)
        scores = end_epoch(training, epoch, train_logs, time.perf_counter() - started)
        epochs.set_postfix(**{split: f"{score:.3f}" for split, score in scores.items()})
    return finish(training)
