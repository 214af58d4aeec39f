"""Measure every kind of run the chapters train in the full profile, at its own shapes, for the GPU bill.

A kind of run is what decides its cost: dataset (the full-profile input shapes), fusion, method and
its options (seeds and alphas cost the same). For each kind, the run's own model, method and optimizer
(built as ``python -m dglnb train --profile full`` builds them: ``resolve``, ``build_method``,
``setup``, ``dglnb.train.training.prepare``), bf16 autocast and channels-last on CUDA, on a random
batch of the full-profile batch size kept on the device:

* ``step``: the median of ``--steps`` training steps (``method.train_step``) after ``--warmup``;
* ``eval``: the median forward pass in inference mode (validation and final scoring);
* ``hook``: the method's epoch hook (``on_epoch_start``: G-Blending's copies trained per head, PMR's
  prototypes, DNR's diagnosis) on loaders of ``--hook-batches`` batches (a sample per class at
  least), times the share of the run's epochs on which it fires, per loader sample; it scales with
  the loaders' length.

A kind that fails is reported and the others still run (exit status 1). One JSON object per line goes
to ``--out`` (``tools/gpu_bill.py --steps`` reads it) and a table to
stdout. No gradient diagnostics are timed (the full profile logs them every ``diag_every`` steps).

    python benchmarks/chapter_steps.py --device cuda --out benchmarks/results/chapter_steps_h200.jsonl
    .venv/bin/python benchmarks/chapter_steps.py --device cpu --batch 2 --steps 1 --warmup 0 \
        --chapters 05 --out /tmp/steps.jsonl
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
import time
from pathlib import Path
from typing import Any, Callable

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))

from dglnb.config import TrainConfig  # noqa: E402
from dglnb.data import DatasetInfo, to_device  # noqa: E402
from dglnb.models import build_model  # noqa: E402
from dglnb.train.device import autocast  # noqa: E402
from dglnb.train.run import build_method, resolve  # noqa: E402
from dglnb.train.speed import batch_channels_last  # noqa: E402
from dglnb.train.training import prepare  # noqa: E402
from gpu_bill import Run, chapter_runs, full_inputs, kind  # noqa: E402
from step_time import random_batch, synchronize  # noqa: E402

# method -> whether its epoch hook fires on ``epoch`` (0-based); every epoch where not named
FIRES: dict[str, Callable[[Any, int], bool]] = {
    "gblending": lambda method, epoch: epoch % method.super_epoch == 0,
    "dnr": lambda method, epoch: method.is_reinit_epoch(epoch - 1),
}


def kinds(chapters: list[str], methods: list[str] | None = None) -> dict[tuple, Run]:
    """Each kind of run of ``chapters`` (of ``methods`` where given), with one of its runs."""
    found: dict[tuple, Run] = {}
    for chapter, runs in chapter_runs().items():
        for run in runs if chapter in chapters else ():
            if methods is None or run.method in methods:
                found.setdefault(kind(run), run)
    return found


class Loader(list):
    """A list of batches standing in for a DataLoader in the epoch hooks (``len`` counts batches)."""

    def __init__(self, batches: list[dict], info: DatasetInfo):
        super().__init__(batches)
        self.dataset = type("Synthetic", (), {"info": info})()


def synchronized(device: torch.device, work: Callable[[], Any]) -> float:
    """The wall seconds of ``work()``, the GPU's queue drained before and after."""
    synchronize(device)
    start = time.perf_counter()
    work()
    synchronize(device)
    return time.perf_counter() - start


def measure(run: Run, args: argparse.Namespace) -> dict[str, Any]:
    """One kind's record: its seconds per training sample (step), per scored sample (eval) and per
    loader sample of an epoch (hook, averaged over the run's epochs)."""
    device = torch.device(args.device)
    config = resolve(
        TrainConfig(
            dataset=run.dataset,
            method=run.method,
            fusion=run.fusion,
            profile="full",
            device=args.device,
            epochs=run.epochs,
            alpha=run.alpha,
            method_options=dict(run.options),
        )
    )
    batch_size = args.batch or config.batch_size
    info = full_inputs(run.dataset)
    model = build_model(info, config.fusion, width=config.width, hidden=config.hidden)
    method = build_method(config)
    method.setup(model)
    # the layout and the optimizer as a run of ``config`` gets them (no files are written)
    training = prepare(model.to(device), method, {}, config, out=Path())
    optimizer, generator = training.optimizer, torch.Generator().manual_seed(0)

    def on_device() -> dict:
        batch = to_device(random_batch(info, batch_size, generator), device)
        return batch_channels_last(batch) if training.channels_last else batch

    batch = on_device()
    # at least a sample per class: DNR's diagnosis clusters the loader's features into classes
    hook_batches = max(args.hook_batches, math.ceil(info.num_classes / batch_size))
    loader = Loader([on_device() for _ in range(hook_batches)], info)
    loaders = {"train": loader, "val": loader, "train_eval": loader}
    model.train()
    method.on_epoch_start(0, model, loaders, optimizer)  # a method's state for its steps

    def step() -> None:
        with autocast(device):
            method.train_step(model, batch, optimizer)

    def forward() -> None:
        with torch.inference_mode(), autocast(device):
            model(batch)

    steps = [synchronized(device, step) for _ in range(args.warmup + args.steps)][args.warmup :]
    model.eval()
    evals = [synchronized(device, forward) for _ in range(args.warmup + args.steps)][args.warmup :]
    model.train()
    fires = FIRES.get(run.method, lambda method, epoch: True)
    share = sum(fires(method, epoch) for epoch in range(run.epochs)) / run.epochs
    epoch = next((e for e in range(run.epochs) if fires(method, e)), 0)
    hook = synchronized(device, lambda: method.on_epoch_start(epoch, model, loaders, optimizer))
    record = {
        "dataset": run.dataset,
        "fusion": run.fusion,
        "method": run.method,
        "options": dict(run.options),
        "batch": batch_size,
        "step_s": statistics.median(steps),
        "eval_s": statistics.median(evals),
        "train_s_per_sample": statistics.median(steps) / batch_size,
        "eval_s_per_sample": statistics.median(evals) / batch_size,
        "hook_s_per_sample": hook * share / (hook_batches * batch_size),
        "hook_share": share,
        "device": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
        "torch": torch.__version__,
    }
    if device.type == "cuda":
        record["peak_mib"] = torch.cuda.max_memory_allocated(device) / 2**20
        torch.cuda.reset_peak_memory_stats(device)
    return record


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--device", choices=("cuda", "cpu"), required=True)
    parser.add_argument("--out", type=Path, required=True, help="JSON lines, one per kind of run")
    parser.add_argument("--steps", type=int, default=10, help="timed steps (default 10)")
    parser.add_argument("--warmup", type=int, default=3, help="untimed steps first (default 3)")
    parser.add_argument("--hook-batches", type=int, default=2, help="batches per hook loader")
    parser.add_argument("--batch", type=int, help="batch size (default: the full profile's)")
    parser.add_argument("--chapters", nargs="+", default=[f"{i:02d}" for i in range(10)])
    parser.add_argument("--methods", nargs="+", help="only these methods (default: every one)")
    args = parser.parse_args()
    if args.device == "cuda" and not torch.cuda.is_available():
        parser.error("--device cuda: this torch sees no CUDA GPU; use --device cpu")
    if args.out.exists():
        parser.error(f"--out {args.out} exists: give a new file")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    todo = kinds(args.chapters, args.methods)
    print(f"{len(todo)} kinds of run; seconds per sample (step, eval, epoch hook)", flush=True)
    failed = []
    for run in todo.values():
        try:
            record = measure(run, args)
        except Exception as error:  # noqa: BLE001 (one kind's failure must not lose the others)
            failed.append(f"{run.dataset} {run.fusion} {run.method}: {error!r}")
            print(f"FAILED {failed[-1]}", flush=True)
            continue
        with args.out.open("a") as out:  # a line per kind as it is measured: a cut run keeps them
            out.write(json.dumps(record) + "\n")
        options = f" {dict(run.options)}" if run.options else ""
        print(
            f"{run.dataset:15s} {run.fusion:9s} {run.method}{options}: batch {record['batch']}, "
            f"step {1e3 * record['step_s']:.1f} ms, {1e6 * record['train_s_per_sample']:.0f} us "
            f"train, {1e6 * record['eval_s_per_sample']:.0f} us eval, "
            f"{1e6 * record['hook_s_per_sample']:.0f} us hook a sample",
            flush=True,
        )
    if failed:
        sys.exit(f"{len(failed)} of {len(todo)} kinds failed:\n" + "\n".join(failed))


if __name__ == "__main__":
    main()
