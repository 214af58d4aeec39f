"""Time a DGL training step against a vanilla step at CREMA-D shapes, in the fast and the official recipe.

Models come from ``dglnb.models.build_model`` (two ResNet18 encoders, concat fusion) and methods from
``dglnb.methods.METHODS``; every method and recipe gets its own copy of one initial model.

* fast recipe: the batch already on the device, bf16 autocast on CUDA (``autocast``; fp32 on the CPU),
  channels-last layout on CUDA (the plain layout on a CPU, where channels-last convolutions are unsound:
  ``dglnb.train.speed.channels_last_is_sound``) and a fused optimizer (``dglnb.train.speed``), optionally
  ``torch.compile``.
* official recipe (``official_recipe.py``): fp32, a default SGD, every sample decoded from files in the
  step, in the main process (the official code overlaps decoding in 32 loader workers: the decode time
  is printed apart from the step time), and the official DGL step.

Steps of all runs interleave (one step of each in turn), so machine load affects them alike; warm-up
steps are left out. Each run's FLOPs per step are counted once (``flops.py``: torch's FlopCounterMode),
on a copy of its model outside the timed steps; with the median step time they give the achieved
TFLOP/s and, on a GPU whose peak ``flops.PEAKS`` knows, the MFU (against the dense bf16 peak for the
fast recipe on CUDA, fp32 otherwise). The last line is ``ratio <DGL / vanilla median step time>`` of
the fast recipe.

    python benchmarks/step_time.py --device cpu --shapes small --steps 5
    python benchmarks/step_time.py --device cuda --recipe both
"""

from __future__ import annotations

import argparse
import copy
import functools
import os
import resource
import statistics
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import torch

from dglnb.data import DatasetInfo, to_device
from dglnb.data.audio import SpectrogramSpec, get_spec
from dglnb.methods import METHODS
from dglnb.models import MultimodalClassifier, build_model
from dglnb.train.device import autocast
from dglnb.train.speed import (
    batch_channels_last,
    channels_last_is_sound,
    compile_model,
    make_optimizer,
    to_channels_last,
)
from flops import COUNTED, count_flops, mfu_line
from official_recipe import LR, MOMENTUM, WEIGHT_DECAY, ClipFiles, official_step

METHOD_NAMES = ("vanilla", "dgl")
RECIPES = ("fast", "official")
CLASSES = 6


@dataclass(frozen=True)
class Shapes:
    """A benchmark size: the spectrogram comes from ``spec``, one RGB frame of ``frame_side`` pixels."""

    name: str
    spec: SpectrogramSpec
    frame_side: int
    width: int  # ResNet18 stem width
    batch: int
    description: str

    @property
    def info(self) -> DatasetInfo:
        return DatasetInfo(
            self.name,
            ("audio", "visual"),
            {"audio": "spectrogram", "visual": "frames"},
            CLASSES,
            shapes={
                "audio": (1, *self.spec.shape),
                "visual": (3, 1, self.frame_side, self.frame_side),
            },
        )


SHAPES = {
    "cremad": Shapes(
        "cremad",
        get_spec("paper"),
        224,
        64,
        64,
        "CREMA-D: spectrogram 1x257x299, one 3x224x224 frame, ResNet18 width 64",
    ),
    "small": Shapes(
        "small",
        SpectrogramSpec("bench_small", 8_000, 1.0, 256, 62, center=False),
        64,
        16,
        16,
        "small: spectrogram 1x129x125, one 3x64x64 frame, ResNet18 width 16",
    ),
}


def device_name(device: torch.device) -> str:
    """The GPU's name, or the CPU model from /proc/cpuinfo with the core and thread counts."""
    if device.type == "cuda":
        return f"cuda: {torch.cuda.get_device_name(device)}"
    model = "unknown CPU"
    if Path("/proc/cpuinfo").is_file():
        names = [
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ]
        model = names[0] if names else model
    return f"cpu: {model}, {os.cpu_count()} logical CPUs, {torch.get_num_threads()} torch threads"


def random_batch(info: DatasetInfo, n: int, generator: torch.Generator) -> dict:
    """``n`` random samples at ``info``'s shapes, with class labels or, for segmentation, label maps."""
    batch: dict = {m: torch.randn(n, *info.shapes[m], generator=generator) for m in info.modalities}
    segmentation = info.task == "segmentation"
    label_shape = (n, *info.shapes[info.modalities[0]][-2:]) if segmentation else (n,)
    batch["label"] = torch.randint(info.num_classes, label_shape, generator=generator)
    batch["id"] = [str(i) for i in range(n)]
    return batch


def layout_note(device: torch.device) -> str:
    """The memory layout the fast recipe uses on ``device``, and why."""
    if channels_last_is_sound(device):
        return "layout: channels-last (weights and 4-D inputs)"
    return (
        "layout: plain (NCHW): channels-last convolutions are unsound on a CPU "
        "(dglnb.train.speed.channels_last_is_sound)"
    )


def fast_batch(batch: dict, device: torch.device) -> dict:
    """``batch`` on ``device``, in channels-last where that layout is sound (CUDA), else as it is."""
    batch = to_device(batch, device)
    return batch_channels_last(batch) if channels_last_is_sound(device) else batch


def fast_step(
    method_name: str, model: MultimodalClassifier, device: torch.device, compile: bool = False
) -> Callable[[dict], dict]:
    """A step function ``batch -> losses`` in the fast recipe, for ``model`` (moved to ``device``, in
    channels-last where that is sound); the batch must come from :func:`fast_batch`."""
    model = model.to(device)
    if channels_last_is_sound(device):
        to_channels_last(model)
    model = compile_model(model, compile).train()
    method = METHODS.get(method_name)()
    optimizer = make_optimizer(
        method.param_groups(model, LR), device, lr=LR, momentum=MOMENTUM, weight_decay=WEIGHT_DECAY
    )

    def step(batch: dict) -> dict:
        with autocast(device):
            return method.train_step(model, batch, optimizer)

    return step


@dataclass
class Run:
    """One method in one recipe: its step function, where its batch comes from, and what was measured."""

    recipe: str
    method: str
    step: Callable[[dict], dict]
    next_batch: Callable[[], dict]
    seconds: list[float] = field(default_factory=list)
    decode_seconds: list[float] = field(default_factory=list)
    peak_bytes: int = 0
    flops: int = 0  # per step, counted once

    def median(self) -> float:
        return statistics.median(self.seconds)


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def time_step(run: Run, device: torch.device, record: bool) -> None:
    """One step of ``run``: its batch (decoded, for the official recipe), then the step; timed."""
    synchronize(device)
    start = time.perf_counter()
    batch = run.next_batch()
    decoded = time.perf_counter()
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
        resident = torch.cuda.memory_allocated(device)
    run.step(to_device(batch, device))
    synchronize(device)
    end = time.perf_counter()
    if record:
        run.seconds.append(end - start)
        run.decode_seconds.append(decoded - start)
        if device.type == "cuda":
            run.peak_bytes = max(run.peak_bytes, torch.cuda.max_memory_allocated(device) - resident)


def fast_runs(
    shapes: Shapes,
    batch_size: int,
    device: torch.device,
    model: MultimodalClassifier,
    compile: bool = False,
) -> list[Run]:
    """Vanilla and DGL in the fast recipe on one random batch kept on the device."""
    generator = torch.Generator().manual_seed(1)
    batch = fast_batch(random_batch(shapes.info, batch_size, generator), device)
    return [
        Run("fast", name, fast_step(name, copy.deepcopy(model), device, compile), lambda: batch)
        for name in METHOD_NAMES
    ]


def measure(runs: list[Run], device: torch.device, steps: int, warmup: int) -> None:
    for i in range(warmup + steps):
        for run in runs:
            time_step(run, device, record=i >= warmup)


def memory_note(device: torch.device) -> str:
    if device.type == "cuda":
        return (
            "peak memory: per method, torch.cuda.max_memory_allocated during its step above what was "
            "allocated before it"
        )
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return (
        f"peak memory: {peak:.0f} MiB resident for the whole process, all runs together "
        "(resource ru_maxrss; the CPU has no per-method peak)"
    )


def count_step_flops(
    runs: list[Run], model: MultimodalClassifier, batch: dict, device: torch.device
) -> None:
    """Each run's FLOPs per step: one step of its method and recipe, uncompiled, on a copy of ``model``
    with ``batch`` (the fast recipe's layout; the official recipe's decoded batches have its shapes)."""
    for run in runs:
        if run.recipe == "fast":
            step = fast_step(run.method, copy.deepcopy(model), device)
        else:
            step = official_step(run.method, copy.deepcopy(model), device)
        run.flops = count_flops(functools.partial(step, batch))


def dtype(run: Run, device: torch.device) -> str:
    """The dtype of the run's matrix products: bf16 for the fast recipe on CUDA, else fp32."""
    return "bf16" if run.recipe == "fast" and device.type == "cuda" else "fp32"


def tflops(run: Run) -> float:
    return run.flops / run.median() / 1e12


def flops_report(runs: list[Run], device: torch.device, batch_size: int) -> None:
    """The FLOPs line, then the MFU line (``flops.mfu_line``)."""
    counted = ", ".join(f"{run.recipe} {run.method} {run.flops / 1e9:.2f}" for run in runs)
    print(f"FLOPs per step (batch {batch_size}), GFLOP: {counted} (FlopCounterMode: {COUNTED})")
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else None
    achieved = [(f"{run.recipe} {run.method}", dtype(run, device), tflops(run)) for run in runs]
    print(mfu_line(name, achieved))


def report(runs: list[Run], device: torch.device, batch_size: int) -> None:
    for run in runs:
        line = (
            f"{run.recipe:8s} {run.method:7s}: {batch_size / run.median():8.1f} samples/s, "
            f"median step {1e3 * run.median():9.2f} ms, {tflops(run):.3f} TFLOP/s"
        )
        if run.recipe == "official":
            decode = statistics.median(run.decode_seconds)
            line += f" (decode {1e3 * decode:.2f} ms + step {1e3 * (run.median() - decode):.2f} ms)"
        if device.type == "cuda":
            line += f", peak memory {run.peak_bytes / 2**20:.0f} MiB"
        print(line)
    print(memory_note(device))
    flops_report(runs, device, batch_size)
    by = {(run.recipe, run.method): run for run in runs}
    if ("official", "dgl") in by and ("fast", "dgl") in by:
        print(
            "speed-up fast/official (samples/s): "
            + ", ".join(
                f"{name} {by['official', name].median() / by['fast', name].median():.2f}x"
                for name in METHOD_NAMES
            )
        )
    recipe = "fast" if ("fast", "dgl") in by else "official"
    print(f"DGL / vanilla median step time, {recipe} recipe:")
    print(f"ratio {by[recipe, 'dgl'].median() / by[recipe, 'vanilla'].median():.3f}")


def positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {value}")
    return value


def checked_device(parser: argparse.ArgumentParser, name: str) -> torch.device:
    if name == "cuda" and not torch.cuda.is_available():
        parser.error("--device cuda: this torch sees no CUDA GPU; use --device cpu")
    return torch.device(name)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--device", choices=("cpu", "cuda"), required=True)
    parser.add_argument("--recipe", choices=(*RECIPES, "both"), default="fast")
    parser.add_argument("--shapes", choices=tuple(SHAPES), default="cremad")
    parser.add_argument(
        "--steps", type=positive, default=20, help="timed steps per run (default 20)"
    )
    parser.add_argument("--warmup", type=int, default=3, help="untimed steps first (default 3)")
    parser.add_argument(
        "--batch", type=positive, default=None, help="batch size (default: 64 cremad, 16 small)"
    )
    parser.add_argument(
        "--compile", action="store_true", help="torch.compile the fast recipe's models (slow start)"
    )
    args = parser.parse_args()
    device = checked_device(parser, args.device)
    shapes = SHAPES[args.shapes]
    batch_size = args.batch or shapes.batch
    torch.manual_seed(0)
    model = build_model(shapes.info, width=shapes.width)
    runs = (
        fast_runs(shapes, batch_size, device, model, args.compile)
        if args.recipe in ("fast", "both")
        else []
    )
    generator = torch.Generator().manual_seed(2)
    counting_batch = fast_batch(random_batch(shapes.info, batch_size, generator), device)
    with tempfile.TemporaryDirectory(prefix="step_time_") as folder:
        if args.recipe in ("official", "both"):
            files = ClipFiles(Path(folder), shapes)
            runs += [
                Run(
                    "official",
                    name,
                    official_step(name, copy.deepcopy(model), device),
                    lambda: files.batch(batch_size),
                )
                for name in METHOD_NAMES
            ]
        print(f"device {device_name(device)}; torch {torch.__version__}")
        print(
            f"shapes {shapes.description}; batch {batch_size}; median of {args.steps} steps after {args.warmup} "
            f"warm-up steps, runs interleaved{'; fast recipe compiled' if args.compile else ''}"
        )
        if args.recipe in ("fast", "both"):
            print(layout_note(device))
        count_step_flops(runs, model, counting_batch, device)
        measure(runs, device, args.steps, args.warmup)
    report(runs, device, batch_size)


if __name__ == "__main__":
    main()
