"""The training figures of the GPU check (gpu_check.sh): each run checked to have gone through the whole
loop, its seconds per epoch (timing.csv: the epoch's training steps; the validation after it, the
checkpoints and the final scoring are not in it), and 100 epochs of CREMA-D's training steps
extrapolated from them by clip count. Exits 1 naming what a run lacks.

    python benchmarks/gpu_check_summary.py --data PREPARED_CREMAD RUN_DIR...
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import statistics
import sys
from pathlib import Path

CREMAD_TRAIN, EPOCHS = 6698, 100  # the release's training split (val included), the paper's epochs


def duration(seconds: float) -> str:
    return (
        f"{seconds:.1f} s"
        if seconds < 120
        else f"{seconds / 60:.1f} min"
        if seconds < 7200
        else f"{seconds / 3600:.1f} h"
    )


def rows(path: Path) -> list[dict[str, str]]:
    with path.open() as handle:
        return list(csv.DictReader(handle))


def problems(run: Path) -> list[str]:
    """What the run folder lacks of a run through the whole loop: files, one log row per epoch, finite scores."""
    missing = [
        name
        for name in ("metrics.json", "history.csv", "timing.csv", "last.pt", "best.pt")
        if not (run / name).is_file()
    ]
    if missing:
        return [f"{run} lacks {', '.join(missing)}"]
    config = json.loads((run / "metrics.json").read_text())["config"]
    history, timing = rows(run / "history.csv"), rows(run / "timing.csv")
    found = []
    if not len(history) == len(timing) == config["epochs"]:
        found.append(
            f"{run}: {len(history)} history rows and {len(timing)} timings for "
            f"{config['epochs']} epochs"
        )
    scores = [
        float(v) for row in history for k, v in row.items() if k.startswith(("val_", "test_"))
    ]
    if not scores or not all(math.isfinite(s) for s in scores):
        found.append(f"{run}: val/test scores missing or not finite in history.csv")
    if not (config["augment"] and config["data_path"] == "memory"):
        found.append(
            f"{run}: augment={config['augment']}, data_path={config['data_path']!r}; "
            "the check needs both on"
        )
    return found


def summary(run: Path, splits: dict[str, int]) -> list[str]:
    """Two lines: the measured epochs, and 100 epochs of CREMA-D's training steps extrapolated from the
    later ones by training clips."""
    metrics = json.loads((run / "metrics.json").read_text())
    config = metrics["config"]
    seconds = [float(row["seconds"]) for row in rows(run / "timing.csv")]
    steady = seconds[1:] or seconds  # the first epoch also warms up kernels and the allocator
    trained = (
        splits["train"]
        if config["max_steps"] is None
        else min(splits["train"], config["max_steps"] * config["batch_size"])
    )
    hundred = statistics.median(steady) * CREMAD_TRAIN / trained * EPOCHS
    scores = ", ".join(
        f"{head} {v:.3f}" for head, v in metrics["test_score"].items() if v is not None
    )
    sizes = ", ".join(f"{name} {n}" for name, n in splits.items())
    method, epochs = config["method"], ", ".join(f"{s:.1f}" for s in seconds)
    first = 2 if seconds[1:] else 1
    return [
        f"{method}: {len(seconds)} epochs on {config['device']} ({config['profile']} profile, "
        f"batch {config['batch_size']}, {sizes}): {epochs} s per epoch, training steps only; "
        f"checkpoints written; test accuracy (epoch {metrics['best_epoch']}): {scores}",
        f"{method}: {EPOCHS} epochs of CREMA-D ({CREMAD_TRAIN:,} training clips): "
        f"{duration(hundred)}, "
        f"training steps only (extrapolated from the median of epochs {first}-{len(seconds)} "
        f"over {trained:,} clips an epoch)",
    ]


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--data", type=Path, required=True, help="the prepared CREMA-D folder the runs trained on"
    )
    parser.add_argument("runs", type=Path, nargs="+")
    args = parser.parse_args()
    manifest = json.loads((args.data / "manifest.json").read_text())
    splits = {name: len(split["ids"]) for name, split in manifest["splits"].items()}
    found = [p for run in args.runs for p in problems(run)]
    if found:
        print("\n".join(found), file=sys.stderr)
        return 1
    for run in args.runs:
        print("\n".join(summary(run, splits)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
