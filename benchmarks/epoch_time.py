"""Time one training epoch of CREMA-D (6,698 train clips, batch 64, two ResNet18 encoders) and extrapolate
to the paper's 100 epochs, with the fast step of ``step_time.py``.

Without ``--data-root`` the batches are synthetic tensors kept on the device (no loading is timed);
with it, the prepared CREMA-D train split is read by a DataLoader as in training. ``--clips N`` times
only the first N clips of the epoch and extrapolates (a full epoch on a CPU takes hours).

    python benchmarks/epoch_time.py --device cuda --method dgl
    python benchmarks/epoch_time.py --device cpu --clips 256
"""

from __future__ import annotations

import argparse
import itertools
import math
import time
from pathlib import Path

import torch
from torch.utils.data import DataLoader

from dglnb.data import load_dataset
from dglnb.data.errors import DataError
from dglnb.models import build_model
from step_time import (
    METHOD_NAMES,
    SHAPES,
    checked_device,
    device_name,
    fast_batch,
    fast_step,
    layout_note,
    positive,
    random_batch,
    synchronize,
)

EPOCH_CLIPS, EPOCHS, BATCH = 6698, 100, 64


def duration(seconds: float) -> str:
    return (
        f"{seconds:.1f} s"
        if seconds < 120
        else f"{seconds / 60:.1f} min"
        if seconds < 7200
        else f"{seconds / 3600:.1f} h"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--device", choices=("cpu", "cuda"), required=True)
    parser.add_argument("--method", choices=METHOD_NAMES, default="dgl")
    parser.add_argument(
        "--data-root",
        type=Path,
        default=None,
        help="a prepared CREMA-D folder (default: synthetic)",
    )
    parser.add_argument(
        "--clips", type=positive, default=None, help="time this many clips and extrapolate"
    )
    parser.add_argument(
        "--batch", type=positive, default=BATCH, help=f"batch size (default {BATCH})"
    )
    parser.add_argument(
        "--workers", type=int, default=4, help="DataLoader workers for --data-root (default 4)"
    )
    parser.add_argument(
        "--compile", action="store_true", help="torch.compile the model (slow start)"
    )
    args = parser.parse_args()
    device = checked_device(parser, args.device)
    torch.manual_seed(0)

    if args.data_root is None:
        info, epoch_clips = SHAPES["cremad"].info, EPOCH_CLIPS
        pool = [
            fast_batch(random_batch(info, args.batch, torch.Generator().manual_seed(i)), device)
            for i in range(2)
        ]
        batches = (pool[i % 2] for i in itertools.count())
        source = (
            "synthetic in-memory tensors on the device: no --data-root, so no prepared CREMA-D "
            "(loading and decoding are not timed)"
        )
    else:
        try:
            data = load_dataset("cremad", "train", profile="full", data_root=args.data_root)
        except DataError as error:
            parser.error(str(error))
        info, epoch_clips = data.info, len(data)
        loader = DataLoader(
            data,
            batch_size=args.batch,
            shuffle=True,
            num_workers=args.workers,
            pin_memory=device.type == "cuda",
        )
        epochs = itertools.chain.from_iterable(itertools.repeat(loader))
        batches = (fast_batch(b, device) for b in epochs)
        source = f"prepared CREMA-D at {args.data_root}, train split, read by {args.workers} DataLoader workers"
    clips = min(args.clips or epoch_clips, epoch_clips)
    steps = math.ceil(clips / args.batch)
    model = build_model(info, width=SHAPES["cremad"].width)
    step = fast_step(args.method, model, device, args.compile)

    shapes = ", ".join(f"{m} {'x'.join(map(str, info.shapes[m]))}" for m in info.modalities)
    print(f"device {device_name(device)}; torch {torch.__version__}")
    print(f"data: {source}")
    print(
        f"model: two ResNet18 encoders (width {SHAPES['cremad'].width}), concat fusion; inputs {shapes}; "
        f"method {args.method}, fast recipe; batch {args.batch}"
    )
    print(layout_note(device))
    step(next(batches))  # warm-up: allocator, kernel selection, loader workers
    synchronize(device)
    start, seen = time.perf_counter(), 0
    for batch in itertools.islice(batches, steps):
        step(batch)
        seen += len(batch["label"])
    synchronize(device)
    seconds = time.perf_counter() - start
    epoch = seconds / seen * epoch_clips
    measured = seen >= epoch_clips
    how = "measured" if measured else f"extrapolated from {seen} clips"
    print(f"timed {steps} steps ({seen} clips) in {seconds:.2f} s, after 1 untimed warm-up step")
    print(f"epoch ({epoch_clips:,} clips): {duration(epoch)} ({how})")
    print(
        f"{EPOCHS} epochs: {duration(EPOCHS * epoch)} (extrapolated from {'one epoch' if measured else f'{seen} clips'}"
        "; evaluation not included)"
    )


if __name__ == "__main__":
    main()
