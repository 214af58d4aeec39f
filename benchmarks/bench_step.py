"""Time one DGL training step against one vanilla step on the same model and batch.

Prints, per model, the median step time of each method and their ratio (DGL / vanilla). DGL runs
the encoders once and backpropagates through each encoder once, so the ratio should stay near 1;
the extra cost is the fusion head evaluated 1 + M times. Steps of the two methods alternate, so a
change in machine load affects both alike.

    python benchmarks/bench_step.py [--steps 30] [--warmup 5] [--threads 2]
"""

from __future__ import annotations

import argparse
import copy
import statistics
import time

import torch

from dglnb.data import DatasetInfo
from dglnb.methods import METHODS
from dglnb.models import MultimodalClassifier, build_model

AV = DatasetInfo("av", ("audio", "visual"), {"audio": "spectrogram", "visual": "frames"}, 6,
                 shapes={"audio": (1, 128, 128), "visual": (3, 1, 64, 64)})
VECTORS = DatasetInfo("vectors", ("audio", "visual"), {"audio": "vector", "visual": "vector"}, 6,
                      shapes={"audio": (64,), "visual": (32,)})


def random_batch(info: DatasetInfo, n: int) -> dict:
    batch: dict = {m: torch.randn(n, *info.shapes[m]) for m in info.modalities}
    batch["label"] = torch.randint(info.num_classes, (n,))
    batch["id"] = [str(i) for i in range(n)]
    return batch


def step_times(models: dict[str, MultimodalClassifier], batch: dict, steps: int, warmup: int) -> dict[str, float]:
    """Median seconds per ``train_step`` for each method name in ``models``, steps interleaved."""
    runs = {}
    for name, model in models.items():
        method = METHODS.get(name)()
        runs[name] = (method, model, torch.optim.SGD(method.param_groups(model, 1e-3), momentum=0.9))
    times: dict[str, list[float]] = {name: [] for name in models}
    for i in range(warmup + steps):
        for name, (method, model, optimizer) in runs.items():
            start = time.perf_counter()
            method.train_step(model, batch, optimizer)
            if i >= warmup:
                times[name].append(time.perf_counter() - start)
    return {name: statistics.median(t) for name, t in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    cases = [
        ("ResNet18 width 16, audio 1x128x128 + frames 3x1x64x64, batch 16",
         build_model(AV, width=16), random_batch(AV, 16)),
        ("MLP hidden 128, vectors 64 + 32, batch 64", build_model(VECTORS, hidden=128), random_batch(VECTORS, 64)),
    ]
    print(f"median of {args.steps} steps after {args.warmup} warm-up steps, {args.threads} threads")
    for title, model, batch in cases:
        t = step_times({"vanilla": model, "dgl": copy.deepcopy(model)}, batch, args.steps, args.warmup)
        print(f"{title}: vanilla {1e3 * t['vanilla']:.2f} ms, dgl {1e3 * t['dgl']:.2f} ms, "
              f"dgl / vanilla = {t['dgl'] / t['vanilla']:.3f}")


if __name__ == "__main__":
    main()
