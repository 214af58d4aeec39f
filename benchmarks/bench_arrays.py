"""The array data path and the batched augmentation against the per-sample path (a script, not a test).

On a synthetic prepared CREMA-D-style set (``--clips`` clips of 3 frames at 224x224, 257x299
spectrograms, profile ``full``): seconds per epoch of a per-sample DataLoader (files decoded per
sample) and of :class:`dglnb.data.memory.ArrayAV` over arrays on the device, in pinned host memory
and memory-mapped, with a check that their first batches agree. Then :class:`dglnb.data.augment.Augment`
on a 64-clip batch against a per-sample torchvision loop, and its crop-box statistics against
torchvision's ``RandomResizedCrop.get_params`` (when torchvision is installed).

    python benchmarks/bench_arrays.py [--clips 2048] [--device cuda] [--workers 8]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader

from dglnb.data.augment import Augment, crop_boxes, step_generator
from dglnb.data.cremad import CLASSES
from dglnb.data.memory import ArrayAV, ArrayLoader, load_arrays, open_arrays, to_arrays
from dglnb.data.prep import av_manifest, save_av_sample, write_manifest
from dglnb.data.prepared import PreparedAV

BATCH = 64


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def make_prepared(root: Path, clips: int) -> PreparedAV:
    rng = np.random.default_rng(0)
    ids = [f"c{i:05d}" for i in range(clips)]
    frames = rng.integers(0, 256, (3, 224, 224, 3), dtype=np.uint8)
    spec = rng.standard_normal((257, 299)).astype(np.float16)
    for k, sample_id in enumerate(ids):
        save_av_sample(root, sample_id, spec, np.roll(frames, k % 50, axis=1))
    labels = {i: int(rng.integers(len(CLASSES))) for i in ids}
    write_manifest(
        root,
        av_manifest(
            "cremad",
            CLASSES,
            labels,
            {"train": ids, "val": [], "test": []},
            {},
            {"audio": [257, 299], "visual": [-1, 224, 224, 3]},
            [],
        ),
    )
    return PreparedAV(root, "cremad", "train", profile="full", frames=1)


def epoch_seconds(batches, prepare, device: torch.device) -> float:
    synchronize(device)
    started = time.perf_counter()
    for batch in batches:
        prepare(batch)
    synchronize(device)
    return time.perf_counter() - started


def data_path(clips: int, device: torch.device, workers: int) -> None:
    root = Path(tempfile.mkdtemp()) / "prepared"
    started = time.perf_counter()
    dataset = make_prepared(root, clips)
    print(f"wrote {clips} prepared clips in {time.perf_counter() - started:.1f} s")
    dataset.set_epoch(0, 0)
    pin = device.type == "cuda"
    for w in sorted({0, workers}):
        loader = DataLoader(dataset, BATCH, shuffle=True, num_workers=w, pin_memory=pin)
        seconds = epoch_seconds(
            loader,
            lambda b: [b[k].to(device, non_blocking=True) for k in ("audio", "visual")],
            device,
        )
        print(f"per-sample DataLoader, {w} workers: {seconds:.2f} s/epoch")

    variants = {}
    started = time.perf_counter()
    variants["arrays on the device"] = (ArrayAV(dataset, load_arrays(dataset, device=device)), 0)
    print(f"load_arrays onto {device}: {time.perf_counter() - started:.1f} s")
    if pin:
        variants["arrays in pinned host memory"] = (
            ArrayAV(dataset, load_arrays(dataset, pin=True)),
            0,
        )
    started = time.perf_counter()
    folder = to_arrays(dataset, root / "arrays")
    print(f"to_arrays: {time.perf_counter() - started:.1f} s")
    for w in sorted({0, workers}):
        variants[f"memory-mapped arrays, {w} workers"] = (
            ArrayAV(dataset, open_arrays(dataset, folder)),
            w,
        )
    for name, (arrays, w) in variants.items():
        arrays.set_epoch(0, 0)
        loader = ArrayLoader(arrays, BATCH, shuffle=True, num_workers=w, device=device)
        print(
            f"ArrayLoader, {name}: {epoch_seconds(loader, lambda batch: None, device):.3f} s/epoch"
        )

    dataset.set_epoch(1, 2)
    expected = next(
        iter(DataLoader(dataset, BATCH, shuffle=True, generator=torch.Generator().manual_seed(5)))
    )
    for name, (arrays, _) in variants.items():
        arrays.set_epoch(1, 2)
        got = next(iter(ArrayLoader(arrays, BATCH, shuffle=True, seed=5, device=device)))
        print(
            f"first batch, {name}: same ids {got['id'] == expected['id']}, audio equal "
            f"{torch.equal(got['audio'].cpu(), expected['audio'])}, largest |visual difference| "
            f"{(got['visual'].cpu() - expected['visual']).abs().max().item():.2e}"
        )


def augmentation(device: torch.device) -> None:
    frames = torch.randn(BATCH, 3, 1, 224, 224, device=device)
    augment = Augment()
    augment(frames, step_generator(0, 0, 0))
    seconds = (
        epoch_seconds(range(20), lambda step: augment(frames, step_generator(0, 0, step)), device)
        / 20
    )
    print(f"Augment, {BATCH}x3x1x224x224 on {device}: {seconds * 1e3:.2f} ms/batch")
    try:
        import torchvision.transforms as T
    except ImportError:
        print("torchvision not installed: no comparison with it")
        return
    per_sample = T.Compose([T.RandomResizedCrop(224, antialias=True), T.RandomHorizontalFlip()])
    seconds = (
        epoch_seconds(
            range(3), lambda _: torch.stack([per_sample(f[:, 0]) for f in frames]), device
        )
        / 3
    )
    print(f"torchvision per-sample loop on {device}: {seconds * 1e3:.2f} ms/batch")
    draws = 20_000
    image = torch.zeros(3, 224, 224)
    theirs = np.array(
        [T.RandomResizedCrop.get_params(image, (0.08, 1.0), (3 / 4, 4 / 3)) for _ in range(draws)],
        float,
    )
    ours = crop_boxes(draws, 224, 224, torch.Generator().manual_seed(0)).numpy()
    for name, boxes in (("ours", ours), ("torchvision", theirs)):
        share = boxes[:, 2] * boxes[:, 3] / 224**2
        log_ratio = np.log(boxes[:, 3] / boxes[:, 2])
        print(
            f"crop boxes, {name:11s}: area share mean {share.mean():.4f}, "
            f"quartiles {np.quantile(share, [0.25, 0.5, 0.75]).round(4)}; "
            f"log aspect mean {log_ratio.mean():+.4f} sd {log_ratio.std():.4f}; top mean {boxes[:, 0].mean():.2f}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=int, default=2048)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--workers", type=int, default=8)
    args = parser.parse_args()
    device = torch.device(args.device)
    augmentation(device)
    data_path(args.clips, device, args.workers)


if __name__ == "__main__":
    main()
