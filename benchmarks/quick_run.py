"""Time one quick-profile run (``dglnb.train.train``; AV-Digits unless ``--dataset``) by phase, with its
steps/s and achieved GFLOP/s.

The training code is not touched: the phases are timed from outside the loop, by wrapping, for the
length of the run, the functions the loop calls (``dglnb.train.splits.loaders``,
``dglnb.train.run.build_model``, ``dglnb.train.loop.train_epoch``, ``end_epoch``, ``evaluate``,
``finish``, ``final_scores``, ``linear_probe`` and ``decoder_probe``, ``dglnb.train.gradients.measure``
and ``after_step``,
and the method's ``train_step``). A phase's time excludes the phases timed inside it (a training step
is not also counted in its epoch).

FLOPs per training step are counted once, after the run, with ``torch.utils.flop_counter.FlopCounterMode``
(``flops.py``) on one step of the method, on copies of the run's model and method with a full training
batch; the counter knows matrix products and convolutions (forward and backward), not element-wise
operations, normalisation or the optimizer's update, so the GFLOP/s is a floor on the arithmetic done.

    .venv/bin/python benchmarks/quick_run.py [--method vanilla|dgl] [--threads 1]
    .venv/bin/python benchmarks/quick_run.py --dataset rgbd_scenes [--batch-size 32]   # chapter 07's
    .venv/bin/python benchmarks/quick_run.py --dataset synthetic_seq3 --fusion mlp_mixer  # chapter 06's
    .venv/bin/python benchmarks/quick_run.py --profile smoke   # seconds: the format only
"""

from __future__ import annotations

import time

STARTED = time.perf_counter()  # before torch and dglnb are imported: the start-up phase begins here

import argparse  # noqa: E402
import copy  # noqa: E402
import os  # noqa: E402
import tempfile  # noqa: E402
from collections import Counter, defaultdict  # noqa: E402
from contextlib import ExitStack, contextmanager  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any, Callable, Iterator  # noqa: E402

import torch  # noqa: E402

from dglnb import TrainConfig  # noqa: E402
from dglnb.train import gradients, loop, run, splits  # noqa: E402
from dglnb.train.device import autocast  # noqa: E402
from dglnb.train.loaders import batches, start_epoch  # noqa: E402
from flops import COUNTED, count_flops  # noqa: E402

IMPORTED = time.perf_counter()
DATASETS = ("avdigits", "avdigits_small", "rgbd_scenes", "synthetic_seq3", "synthetic")
# phase -> what it holds, in the order printed; "rest" is whatever no other phase holds
PHASES = {
    "start-up": "imports of torch and dglnb, from the script's first line",
    "data and model": "the run's data loaders (dataset read or generated) and the model built",
    "batches": "within the epochs, the rest of the loop: fetching batches, moving them, logging",
    "training steps": "the method's train_step (forward, backward, optimizer step)",
    "gradient diagnostics": "gradients.measure before a step and gradients.after_step after it",
    "per-epoch evaluation": "evaluation of the validation split after each epoch",
    "checkpoints and logs": "the rest of each epoch's end (schedule, last.pt, logs), best.pt",
    "final scoring": "the selected model scored on val and test, once",
    "probe": "per modality, a logistic regression (classification) or a decoder (segmentation) on the "
    "selected model's frozen features",
    "rest": "the rest: arguments, the run's set-up (optimizer, method), metrics.json, clean-up",
}


class PhaseClock:
    """Exclusive wall-clock seconds per phase: time spent in a nested timed phase counts only there."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)
        self._stack: list[list[Any]] = []  # [phase, start, seconds of nested phases]

    @contextmanager
    def phase(self, name: str) -> Iterator[None]:
        self._stack.append([name, time.perf_counter(), 0.0])
        try:
            yield
        finally:
            name, start, nested = self._stack.pop()
            elapsed = time.perf_counter() - start
            self.seconds[name] += elapsed - nested
            if self._stack:
                self._stack[-1][2] += elapsed

    def timed(self, function: Callable[..., Any], name: str) -> Callable[..., Any]:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with self.phase(name):
                return function(*args, **kwargs)

        return wrapper


@contextmanager
def patched(owner: Any, attribute: str, replacement: Any) -> Iterator[None]:
    original = getattr(owner, attribute)
    setattr(owner, attribute, replacement)
    try:
        yield
    finally:
        setattr(owner, attribute, original)


def timed_run(
    config: TrainConfig, clock: PhaseClock
) -> tuple[dict[str, Any], dict[str, Any], Counter]:
    """Train ``config`` with its phases timed; returns the metrics, what :func:`dglnb.train.loop.fit`
    was given (to count FLOPs on) and the training steps' count and samples."""
    given: dict[str, Any] = {}
    steps: Counter = Counter()

    def fit(model: Any, method: Any, loaders: Any, config: TrainConfig, out: Path) -> Any:
        given.update(model=model, method=method, loaders=loaders, config=config)
        step = clock.timed(method.train_step, "training steps")

        def counted_step(model: Any, batch: dict[str, Any], optimizer: Any) -> Any:
            steps["steps"] += 1
            steps["samples"] += len(batch["label"])
            return step(model, batch, optimizer)

        method.train_step = counted_step  # this run's method object only, for the run's length
        try:
            return original_fit(model, method, loaders, config, out)
        finally:
            del method.train_step

    original_fit = run.fit
    wrapped = [
        (splits, "loaders", "data and model"),
        (run, "build_model", "data and model"),
        (loop, "train_epoch", "batches"),
        (gradients, "measure", "gradient diagnostics"),
        (gradients, "after_step", "gradient diagnostics"),
        (loop, "end_epoch", "checkpoints and logs"),
        (loop, "evaluate", "per-epoch evaluation"),
        (loop, "finish", "checkpoints and logs"),
        (loop, "final_scores", "final scoring"),
        (loop, "linear_probe", "probe"),
        (loop, "decoder_probe", "probe"),
    ]
    with ExitStack() as stack:
        for owner, attribute, name in wrapped:
            stack.enter_context(
                patched(owner, attribute, clock.timed(getattr(owner, attribute), name))
            )
        stack.enter_context(patched(run, "fit", fit))
        metrics = run.train(config)
    return metrics, given, steps


def flops_per_sample(given: dict[str, Any]) -> tuple[int, int]:
    """(FLOPs of one training step on a full batch, that batch's size): counted by FlopCounterMode on
    copies of the run's model, method and optimizer, with the first batch of epoch 0."""
    config = given["config"]
    model, method = copy.deepcopy(given["model"]), copy.deepcopy(given["method"])
    optimizer = loop.build_optimizer(method, model, config)
    loader = given["loaders"]["train"]
    start_epoch(loader, config.seed, 0)
    batch = next(batches(loader))
    model.train()

    def step() -> None:
        with autocast(torch.device(config.device)):
            method.train_step(model, batch, optimizer)

    return count_flops(step), len(batch["label"])


def cpu_name() -> str:
    names = (
        [
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ]
        if Path("/proc/cpuinfo").is_file()
        else []
    )
    return names[0] if names else "unknown CPU"


def report(
    args: argparse.Namespace,
    config: TrainConfig,
    clock: PhaseClock,
    steps: Counter,
    flops: tuple[int, int],
    total: float,
) -> list[str]:
    step_seconds = clock.seconds["training steps"]
    per_step, batch = flops
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    achieved = per_step / batch * steps["samples"] / step_seconds
    lines = [
        f"device cpu: {cpu_name()}, {os.cpu_count()} logical CPUs, {config.threads} torch threads; "
        f"torch {torch.__version__}; load average {load} (at the end)",
        f"run: {config.dataset}, {args.profile} profile, fusion {config.fusion}, method {config.method}, "
        f"seed {config.seed}; "
        f"{config.epochs} epochs, batch {config.batch_size}, {steps['steps']} training steps "
        f"({steps['samples']} samples)",
        f"steps/s: {steps['steps'] / step_seconds:.2f} (training steps alone; "
        f"{steps['samples'] / step_seconds:.1f} samples/s)",
        f"FLOPs per training step (batch {batch}): {per_step / 1e9:.3f} GFLOP, counted once with "
        f"torch.utils.flop_counter.FlopCounterMode ({COUNTED})",
        f"achieved GFLOP/s of the training steps: {achieved / 1e9:.2f}",
        f"wall time: {total:.1f} s, by phase (share, seconds):",
    ]
    for name, what in PHASES.items():
        seconds = clock.seconds[name]
        lines.append(f"  {name:24s} {100 * seconds / total:5.1f} % {seconds:9.3f} s  {what}")
    return lines


def positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {value}")
    return value


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--dataset", choices=DATASETS, default="avdigits")
    parser.add_argument("--fusion", default=None, help="the fusion module (default: the dataset's)")
    parser.add_argument(
        "--batch-size", type=positive, default=None, help="default: the profile's, for the dataset"
    )
    parser.add_argument("--method", choices=("vanilla", "dgl"), default="vanilla")
    parser.add_argument("--threads", type=positive, default=1, help="torch CPU threads (default 1)")
    parser.add_argument(
        "--profile",
        choices=("quick", "smoke"),
        default="quick",
        help="quick (default): the book's run; smoke: seconds, to check the output",
    )
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    clock = PhaseClock()
    clock.seconds["start-up"] = IMPORTED - STARTED
    with tempfile.TemporaryDirectory(prefix="quick_run_") as out:
        chosen = {"fusion": args.fusion, "batch_size": args.batch_size}
        config = TrainConfig(
            dataset=args.dataset,
            method=args.method,
            **{name: value for name, value in chosen.items() if value is not None},
            profile=args.profile,
            seed=args.seed,
            threads=args.threads,
            device="cpu",
            progress=False,
            out=Path(out),
        )
        _, given, steps = timed_run(config, clock)
        total = time.perf_counter() - STARTED
        clock.seconds["rest"] = total - sum(clock.seconds.values())
        flops = flops_per_sample(given)  # after the clock stopped: the benchmark's own work
    print("\n".join(report(args, given["config"], clock, steps, flops, total)))


if __name__ == "__main__":
    main()
