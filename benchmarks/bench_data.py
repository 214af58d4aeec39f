"""Data throughput (a script, not a test): CREMA-D prep in clips/s per worker count on a scaled-up
fixture with CREMA-D-sized media (2.5 s, 480x360 at 30 fps FLV, 16 kHz wav), then loader
throughput in samples/s from the prepared folder.

    .venv/bin/python benchmarks/bench_data.py [--clips 200] [--workers 1 2] [--out DIR]
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

import torch
from torch.utils.data import DataLoader

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))  # the fixture builders

from dglnb.data import load_dataset  # noqa: E402
from dglnb.data.cremad import CLASSES, prepare  # noqa: E402
from fixtures.media import write_video, write_wav  # noqa: E402


def make_release(raw: Path, clips: int) -> None:
    for i in range(clips):
        name = f"{1001 + i // len(CLASSES)}_DFA_{CLASSES[i % len(CLASSES)]}_XX"
        write_wav(raw / "AudioWAV" / f"{name}.wav", seconds=2.5, tone=200 + i)
        write_video(raw / "VideoFlash" / f"{name}.flv", seconds=2.5, fps=30, size=360, shade=i)


def loader_rate(root: Path, profile: str, workers: int, batches: int = 20) -> float:
    data = load_dataset("cremad", "train", profile=profile, data_root=root)
    loader = DataLoader(data, batch_size=16, shuffle=True, num_workers=workers, drop_last=True)
    start, seen = time.perf_counter(), 0
    for _ in range(3):  # epochs, until enough batches
        for batch in loader:
            seen += len(batch["label"])
            if seen >= 16 * batches:
                return seen / (time.perf_counter() - start)
    return seen / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--clips", type=int, default=200)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument(
        "--out", type=Path, default=None, help="scratch folder (default: a temporary one)"
    )
    args = parser.parse_args()
    torch.set_num_threads(2)
    scratch = Path(args.out or tempfile.mkdtemp(prefix="bench_data_"))
    start = time.perf_counter()
    make_release(scratch / "raw", args.clips)
    print(f"fixture: {args.clips} clips written in {time.perf_counter() - start:.1f} s")
    prepared = None
    for workers in args.workers:
        out = scratch / f"prepared_w{workers}"
        shutil.rmtree(out, ignore_errors=True)
        start = time.perf_counter()
        prepare(scratch / "raw", out, workers=workers)
        seconds = time.perf_counter() - start
        rate = args.clips / seconds
        print(
            f"prep  workers={workers}: {rate:6.1f} clips/s ({seconds:.1f} s); 7,442 clips -> "
            f"{7442 / rate / 60:.1f} min at this rate"
        )
        prepared = out
    for profile in ("full", "quick"):
        for workers, threads in ((0, 2), (0, 1), (2, 1)):
            torch.set_num_threads(threads)  # DataLoader workers always run 1 thread each
            print(
                f"load  profile={profile:5s} num_workers={workers} torch threads={threads}: "
                f"{loader_rate(prepared, profile, workers):7.1f} samples/s (batch 16)"
            )
    if args.out is None:
        shutil.rmtree(scratch)


if __name__ == "__main__":
    main()
