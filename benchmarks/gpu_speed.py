"""The whole training loop's speed on a GPU, and what packing several runs on it gains: run it whenever a
GPU is available (not yet run on one; estimated 8-10 minutes on an H200).

1. A synthetic CREMA-D release at the real shapes and split sizes (train 6,028, val 670, test 744; a
   257x299 spectrogram and one 224x224 frame per clip), written straight into data_prep's layout (no
   media is decoded; writing it is not timed).
2. ``python -m dglnb train`` of DGL in the full profile for ``--epochs`` (100) epochs with the fast
   settings: ``--data-path memory`` (arrays in GPU memory), bf16 autocast and channels-last (a CUDA run
   takes both by itself), ``--compile``, the batched augmentation; through the whole loop (validation
   after every epoch, checkpoints, the final scoring and linear probe), timed from outside: the
   process's wall time against the target of 120 s on an H200, and timing.csv's epochs.
3. ``dglnb sweep --pack N`` for each N of ``--packs`` (1 2 4): N DGL runs (seeds 0..N-1) of
   ``--pack-epochs`` (5) epochs at once, with the same settings; the aggregate training throughput
   over the sweep's wall time, and over the runs' steady epochs (the median epoch after the first).

Everything lands in ``--out`` (default benchmarks/results/gpu_speed/): summary.txt and each command's
output and run folders (checkpoints removed once checked). ``--device cpu --sizes tiny`` runs the
same commands at tiny sizes on a CPU (the smoke profile, no compile): tests/test_benchmarks.py does,
so that the script keeps working between GPU runs.

    python benchmarks/gpu_speed.py
    .venv/bin/python benchmarks/gpu_speed.py --device cpu --sizes tiny --packs 1 2 --out /tmp/speed
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
import yaml

from dglnb.data.audio import get_spec
from dglnb.data.cremad import CLASSES
from dglnb.data.prep import av_manifest, save_av_sample, write_manifest
from gpu_check_summary import problems, rows

ROOT = Path(__file__).resolve().parents[1]
TARGET_SECONDS = 120  # 100 epochs of DGL, whole loop, on an H200
# sizes -> (clips per split, profile, compile)
SIZES = {
    "gpu": ({"train": 6028, "val": 670, "test": 744}, "full", True),
    "tiny": ({"train": 16, "val": 6, "test": 6}, "smoke", False),
}


def write_release(root: Path, splits: dict[str, int]) -> dict[str, int]:
    """A prepared CREMA-D folder of ``splits`` clips, each a shifted copy of one random spectrogram and
    frame (distinct inputs, random labels); returns the split sizes."""
    rng = np.random.default_rng(0)
    spec = rng.standard_normal(get_spec("paper").shape).astype(np.float16)
    frame = rng.integers(0, 256, (1, 224, 224, 3), dtype=np.uint8)
    ids = {split: [f"{split}{i:05d}" for i in range(n)] for split, n in splits.items()}
    labels = {i: int(rng.integers(len(CLASSES))) for names in ids.values() for i in names}
    for k, sample_id in enumerate(labels):
        save_av_sample(root, sample_id, np.roll(spec, k, axis=1), np.roll(frame, k, axis=2))
    shapes = {"audio": list(spec.shape), "visual": [-1, 224, 224, 3]}
    write_manifest(
        root, av_manifest("cremad", CLASSES, labels, ids, {"synthetic": True}, shapes, [])
    )
    return splits


def run_options(args: argparse.Namespace, data: Path, compile: bool) -> dict:
    """The TrainConfig settings every run here shares: the full profile's fast path."""
    return {
        "data_root": str(data),
        "device": args.device,
        "data_path": "memory",
        "augment": True,
        "compile": compile,
    }


def command(out: Path, name: str, argv: list[str]) -> float:
    """Run ``argv`` with its output in ``out/name.txt``; its wall seconds. Fails loudly, naming the file."""
    started = time.perf_counter()
    with (out / f"{name}.txt").open("w") as log:
        done = subprocess.run(argv, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT)
    if done.returncode != 0:
        sys.exit(
            f"{' '.join(argv[:5])} ... failed (status {done.returncode}): see {out / f'{name}.txt'}"
        )
    return time.perf_counter() - started


def checked(run: Path) -> list[float]:
    """The run's epoch seconds (timing.csv), after checking it went through the whole loop; its
    checkpoints are removed (too large to keep with the results)."""
    found = problems(run)
    if found:
        sys.exit("\n".join(found))
    for name in ("last.pt", "best.pt"):
        (run / name).unlink()
    return [float(row["seconds"]) for row in rows(run / "timing.csv")]


def trained_clips(run: Path, train: int) -> int:
    config = json.loads((run / "metrics.json").read_text())["config"]
    return (
        train
        if config["max_steps"] is None
        else min(train, config["max_steps"] * config["batch_size"])
    )


def steady(seconds: list[float]) -> float:
    """The median epoch after the first (which also compiles and warms up)."""
    return statistics.median(seconds[1:] or seconds)


def long_run(
    args: argparse.Namespace, data: Path, splits: dict[str, int], profile: str, compile: bool
) -> str:
    """Step 2: one DGL run of ``args.epochs`` epochs; its summary line."""
    options = run_options(args, data, compile)
    argv = [
        sys.executable,
        "-m",
        "dglnb",
        "train",
        "--dataset",
        "cremad",
        "--method",
        "dgl",
        "--profile",
        profile,
        "--epochs",
        str(args.epochs),
        "--no-progress",
        "--out",
        str(args.out / "dgl"),
        "--data-root",
        options["data_root"],
        "--device",
        args.device,
        "--data-path",
        "memory",
        "--augment",
        "--compile" if compile else "--no-compile",
    ]
    wall = command(args.out, "train_dgl", argv)
    seconds = checked(args.out / "dgl")
    verdict = (
        ("met" if wall <= TARGET_SECONDS else "not met")
        if args.epochs == 100
        else "not judged at other epoch counts"
    )
    clips, rest = trained_clips(args.out / "dgl", splits["train"]), wall - sum(seconds)
    return (
        f"{args.epochs} epochs of DGL, whole loop: {wall:.1f} s wall (target <= {TARGET_SECONDS} s "
        f"on an H200: {verdict} here); training steps {sum(seconds):.1f} s (median epoch "
        f"{steady(seconds):.2f} s over {clips:,} clips), the rest {rest:.1f} s (start-up, data "
        "onto the device, compile, validation, checkpoints, final scoring and probe)"
    )


def packed(
    args: argparse.Namespace,
    data: Path,
    splits: dict[str, int],
    profile: str,
    compile: bool,
    pack: int,
) -> tuple[float, float, str]:
    """Step 3 for one N: (aggregate clips/s over the wall time, over the steady epochs, its line)."""
    folder = args.out / f"pack{pack}"
    # the CPUs shared among the runs; one thread each on a CPU device, where a run computes on them
    threads = 1 if args.device == "cpu" else max(1, (os.cpu_count() or 1) // pack)
    sweep = {
        "out": str(folder / "runs"),
        "launcher": "local",
        "profile": profile,
        "methods": ["dgl"],
        "datasets": ["cremad"],
        "seeds": list(range(pack)),
        "options": {
            **run_options(args, data, compile),
            "epochs": args.pack_epochs,
            "threads": threads,
        },
    }
    folder.mkdir(parents=True)
    (folder / "sweep.yaml").write_text(yaml.safe_dump(sweep))
    wall = command(
        folder,
        "sweep",
        [sys.executable, "-m", "dglnb", "sweep", str(folder / "sweep.yaml"), "--pack", str(pack)],
    )
    runs = sorted(path.parent for path in (folder / "runs").rglob("metrics.json"))
    if len(runs) != pack:
        sys.exit(f"{folder}: {len(runs)} finished runs for --pack {pack}")
    clips = [trained_clips(run, splits["train"]) for run in runs]
    epochs = [checked(run) for run in runs]
    over_wall = sum(c * len(e) for c, e in zip(clips, epochs)) / wall
    over_steady = sum(c / steady(e) for c, e in zip(clips, epochs))
    line = (
        f"pack {pack}: {pack} run(s) x {args.pack_epochs} epochs, {threads} CPU thread(s) each, "
        f"in {wall:.1f} s wall: {over_wall:.0f} training clips/s over the wall time, "
        f"{over_steady:.0f} over the runs' steady epochs"
    )
    return over_wall, over_steady, line


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--device", choices=("cuda", "cpu"), default="cuda")
    parser.add_argument("--sizes", choices=tuple(SIZES), default="gpu")
    parser.add_argument(
        "--epochs", type=int, default=100, help="epochs of the long DGL run (default 100)"
    )
    parser.add_argument(
        "--pack-epochs", type=int, default=5, help="epochs of each packed run (default 5)"
    )
    parser.add_argument(
        "--packs", type=int, nargs="+", default=[1, 2, 4], help="runs at once (default 1 2 4)"
    )
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "gpu_speed")
    parser.add_argument(
        "--no-compile", action="store_true", help="no torch.compile (the default at --sizes gpu)"
    )
    args = parser.parse_args()
    if args.device == "cuda" and not torch.cuda.is_available():
        parser.error(
            "--device cuda: this torch sees no CUDA GPU; on a CPU use --device cpu --sizes tiny"
        )
    counts, profile, compile = SIZES[args.sizes]
    compile = compile and not args.no_compile
    args.out.mkdir(parents=True, exist_ok=True)
    if any(args.out.iterdir()):
        parser.error(f"--out {args.out} is not empty: give a new folder")
    name = torch.cuda.get_device_name() if args.device == "cuda" else "cpu"
    summary = args.out / "summary.txt"

    def report(line: str) -> None:
        """A summary line, printed and appended as soon as it is known: a cut run keeps what it had."""
        print(line, flush=True)
        with summary.open("a") as file:
            file.write(line + "\n")

    report(
        f"device {args.device}: {name}; torch {torch.__version__}; {os.cpu_count()} logical CPUs"
    )
    failed = []
    with tempfile.TemporaryDirectory(prefix="gpu_speed_") as folder:
        data = Path(folder) / "cremad"
        started = time.perf_counter()
        splits = write_release(data, counts)
        sizes = ", ".join(f"{k} {v}" for k, v in splits.items())
        fast = ("compiled" if compile else "not compiled") + (
            ", bf16 and channels-last" if args.device == "cuda" else ""
        )
        report(
            f"data: synthetic CREMA-D at the real shapes, {sizes} (written in "
            f"{time.perf_counter() - started:.0f} s, not timed below); {profile} profile, "
            f"data path memory, augmentation, {fast}"
        )

        def attempt(label: str, step: Callable[..., Any], *step_args: Any) -> Any:
            """``step(*step_args)``, or None with its failure reported: the next steps still run."""
            try:
                return step(*step_args)
            except SystemExit as error:
                failed.append(label)
                report(f"{label}: FAILED: {error}")
                return None

        line = attempt("long run", long_run, args, data, splits, profile, compile)
        if line:
            report(line)
        base = None
        for pack in args.packs:
            result = attempt(f"pack {pack}", packed, args, data, splits, profile, compile, pack)
            if result is None:
                continue
            over_wall, over_steady, line = result
            if pack == 1:
                base = result
            elif base:
                line += f" ({over_wall / base[0]:.2f}x and {over_steady / base[1]:.2f}x pack 1)"
            report(line)
    if failed:
        sys.exit(f"failed: {', '.join(failed)} (see {args.out})")


if __name__ == "__main__":
    main()
