"""The GPU bill of the full profile: per chapter (00-09) and for ``make reproduce``, the runs a chapter
trains, their epochs and an epoch time taken from measurements, as GPU-hours.

* Runs: the seeds, datasets and alphas of ``dglnb.config.chapters.SETTINGS[...]["full"]``, the methods
  each chapter's notebook trains (:data:`COMPARED` and :func:`chapter_runs`), the epochs of
  ``dglnb.config.profiles.TRAINING[dataset]["full"]`` (or the chapter's override). A run is known by
  what the run cache tells apart (dataset, method, seed, fusion, epochs, alpha, method options), so
  ``make reproduce`` (chapter 04 first, as the Makefile orders them) trains each only once.
* Epoch time, where the run's kind (dataset, fusion, method, options) was measured on an H200
  (``--steps``, ``benchmarks/chapter_steps.py``'s output; mark M): its training clips (the release's
  training split less the tenth held out for validation) times its measured seconds per training
  sample and per sample of its epoch hook, plus the validation clips times its measured forward pass.
  Elsewhere (mark E): seconds per training clip of the H200 epoch measured at CREMA-D shapes
  (``--measured``, epoch_time.py's output) times the training clips, times the FLOPs per training
  sample of the run's model over CREMA-D's (mark S where that differs from 1; counted with
  FlopCounterMode on the meta device), a floor (mark F) where the run does work beyond them.
  The loop's own costs beyond steps, hook and validation (augmentation, gradient diagnostics,
  checkpoints, start-up) are not in either: book/reproduce.md gives what they added on an H200.

    .venv/bin/python tools/gpu_bill.py            # the table book/reproduce.md holds
    .venv/bin/python tools/gpu_bill.py --runs     # every run: its epoch time and how it was obtained
"""

from __future__ import annotations

import argparse
import json
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import torch
from torch.utils.flop_counter import FlopCounterMode

from dglnb.config.chapters import SETTINGS
from dglnb.config.profiles import settings, training_settings
from dglnb.data import DatasetInfo
from dglnb.data.audio import get_spec
from dglnb.data.cremad import CLASSES as CREMAD_CLASSES
from dglnb.data.kinetics_sounds import EXPECTED_CLASSES as KS_CLASSES
from dglnb.data.nyuv2 import INPUT_SIZES as NYUV2_SIZES
from dglnb.data.nyuv2 import NUM_CLASSES as NYUV2_CLASSES
from dglnb.data.vggsound import EXPECTED_CLASSES as VGGSOUND_CLASSES
from dglnb.methods import METHODS
from dglnb.models import build_model

ROOT = Path(__file__).resolve().parents[1]
CHAPTERS = ("00", "01", "02", "03", "04", "05", "06", "07", "08", "09")
# the order the Makefile's NOTEBOOKS runs the chapters in
REPRODUCE_ORDER = ("04", "00", "01", "02", "03", "05", "06", "07", "08", "09")
# chapter 04's comparison methods
COMPARED = ("gblending", "ogm_ge", "pmr", "agm", "mla", "mmpareto", "dnr")
VAL_SHARE = 0.1  # the share of a training split data_prep holds out for validation (--val-share)
# the releases' training splits (book/reproduce.md's data table); MOSI's has its own validation split
RELEASE_TRAIN = {"cremad": 6698, "kinetics_sounds": 14799, "vggsound": 168618, "nyuv2": 795}
MOSI_TRAIN, MOSI_VAL = 1284, 229  # MOSI's own training and validation splits
MOSI_STEPS, MOSI_FEATURES = 50, {"audio": 5, "visual": 20, "text": 300}  # MulT's aligned pickle
# method -> (the measured step its epoch is timed as, multiple of that epoch, how the multiple is known)
SAME_AS_VANILLA = "as vanilla's epoch: the same encoder passes, not timed"
COSTS: dict[str, tuple[str, float, str]] = {
    "vanilla": ("vanilla", 1, "vanilla's measured epoch"),
    "dgl": ("dgl", 1, "DGL's measured epoch"),
    "unimodal": ("vanilla", 1, SAME_AS_VANILLA),
    "vanilla_lr": ("vanilla", 1, SAME_AS_VANILLA),
    **{
        m: ("dgl", 1, "as DGL's epoch: the same passes, not timed")
        for m in ("dgl_mt", "dgl_ut", "joint_aux")
    },
    # its weight estimate trains a copy per head (3) for super_epoch epochs every super_epoch epochs
    "gblending": (
        "vanilla",
        4,
        "4x vanilla's epoch: a copy per head trained for each estimate (by its algorithm)",
    ),
}
FLOOR = "as vanilla's epoch, a floor: the method's extra passes not timed"
MARKS = {
    "M": "the run's own kind measured on an H200 at its full-profile shapes and batch: training step, "
    "epoch hook and validation pass (benchmarks/chapter_steps.py)",
    "E": "an H200 epoch measured at CREMA-D shapes, scaled to the split's training clips",
    "S": "extrapolated from that epoch to another dataset or fusion by FLOPs per sample",
    "F": "a floor: work beyond the counted FLOPs not timed (comparison methods' extra passes, "
    "MMTM, MOSI's small MLPs; tools/gpu_bill.py --runs lists each run's)",
}


@dataclass(frozen=True)
class Run:
    """One training run: what the run cache tells apart, in the full profile."""

    dataset: str
    method: str
    seed: int
    fusion: str
    epochs: int
    alpha: float | None = None
    options: tuple[tuple[str, Any], ...] = ()


def rows(
    dataset: str,
    methods: tuple[str, ...],
    seeds: tuple[int, ...],
    *,
    fusion: str | None = None,
    epochs: int | None = None,
    alphas: tuple[float | None, ...] = (None,),
    options: dict[str, dict[str, Any]] | None = None,
) -> list[Run]:
    """methods x alphas x seeds on ``dataset``, with the dataset's full-profile fusion, epochs and
    alpha where not given (a method without alpha has none)."""
    recipe = training_settings(dataset, "full")
    return [
        Run(
            dataset,
            method,
            seed,
            fusion or recipe["fusion"],
            epochs or recipe["epochs"],
            (alpha or recipe["alpha"]) if METHODS.get(method).takes("alpha") else None,
            tuple(sorted((options or {}).get(method, {}).items())),
        )
        for method in methods
        for alpha in alphas
        for seed in seeds
    ]


def chapter_runs() -> dict[str, list[Run]]:
    """Each chapter's runs in the full profile, as its notebook trains them (chapter 07's ImageNet rows
    only with ``pretrained`` weights, not counted; chapter 09's loop runs on the CPU)."""
    full = {name: settings(name, "full") for name in SETTINGS}
    s03, s04, s05 = full["gradient_reorganizing"], full["comparison"], full["dense_fusion"]
    return {
        "00": [],
        "01": rows(
            full["gradient_suppression"].dataset, ("vanilla",), full["gradient_suppression"].seeds
        ),
        "02": rows(
            full["gradient_detaching"].dataset,
            ("vanilla", "dgl_mt"),
            full["gradient_detaching"].seeds,
        ),
        "03": [
            *rows(s03.ablation_dataset, ("vanilla", "dgl_mt", "dgl_ut", "dgl"), s03.seeds),
            *rows(s03.dataset, ("dgl", "joint_aux"), s03.sweep_seeds, alphas=s03.alphas),
            *rows(s03.dataset, ("vanilla_lr",), s03.seeds),
        ],
        "04": [
            run
            for dataset in s04.datasets
            for run in [
                *rows(dataset, COMPARED, s04.method_seeds, options=s04.method_options),
                *rows(dataset, ("unimodal", "vanilla", "dgl"), s04.seeds),
            ]
        ],
        "05": rows(
            s05.dataset,
            (*s05.methods, "unimodal"),
            s05.seeds,
            fusion="mmtm",
            epochs=s05.train.get("epochs"),
            options=s05.method_options,
        ),
        "06": rows(
            full["three_modalities"].dataset,
            ("vanilla", "dgl", "unimodal"),
            full["three_modalities"].seeds,
            fusion="mlp_mixer",
        ),
        "07": rows(
            full["segmentation"].dataset, ("vanilla", "dgl", "unimodal"), full["segmentation"].seeds
        ),
        "08": rows(
            full["training_dynamics"].dataset,
            ("vanilla", "unimodal", "dgl"),
            full["training_dynamics"].seeds,
        ),
        "09": [],
    }


def full_inputs(dataset: str) -> DatasetInfo:
    """The per-sample inputs a full-profile run of ``dataset`` trains on (the loaders' shapes)."""
    frame = ("frames", 224)  # data_prep's --frame-side
    if dataset == "mosi":
        return DatasetInfo(
            dataset,
            tuple(MOSI_FEATURES),
            dict.fromkeys(MOSI_FEATURES, "sequence"),
            2,
            shapes={m: (MOSI_STEPS, d) for m, d in MOSI_FEATURES.items()},
        )
    if dataset == "nyuv2":
        size = NYUV2_SIZES["full"]
        return DatasetInfo(
            dataset,
            ("rgb", "depth"),
            {"rgb": "image", "depth": "image"},
            NYUV2_CLASSES,
            task="segmentation",
            shapes={"rgb": (3, *size), "depth": (1, *size)},
        )
    spec, frames, classes = {
        "cremad": ("paper", 1, len(CREMAD_CLASSES)),
        "kinetics_sounds": ("paper_10s", 3, KS_CLASSES),
        "vggsound": ("paper_10s", 3, VGGSOUND_CLASSES),
    }[dataset]
    return DatasetInfo(
        dataset,
        ("audio", "visual"),
        {"audio": "spectrogram", "visual": frame[0]},
        classes,
        shapes={"audio": (1, *get_spec(spec).shape), "visual": (3, frames, frame[1], frame[1])},
    )


@cache
def flops_per_sample(dataset: str, fusion: str) -> float:
    """FLOPs of a forward and backward pass of the full-profile model per sample (FlopCounterMode's
    matrix products and convolutions), on the meta device: nothing is computed."""
    info = full_inputs(dataset)
    with torch.device("meta"):
        recipe = training_settings(dataset, "full")
        model = build_model(info, fusion, width=recipe["width"], hidden=recipe["hidden"])
        batch = {m: torch.empty(2, *info.shapes[m]) for m in info.modalities}
        counter = FlopCounterMode(display=False)
        with counter:
            model(batch).float().sum().backward()
    return counter.get_total_flops() / 2


def read_measured(path: Path) -> dict[str, float]:
    """Seconds per training clip by method from epoch_time.py's output (``method <m>, ...`` and
    ``timed N steps (C clips) in S s`` per run)."""
    text = path.read_text()
    methods = re.findall(r"method (\w+), fast recipe", text)
    timed = re.findall(r"timed \d+ steps \((\d+) clips\) in ([\d.]+) s", text)
    if not methods or len(methods) != len(timed):
        raise ValueError(
            f"{path}: no epoch_time.py output (a 'method ...' and a 'timed ...' line per run)"
        )
    return {m: float(seconds) / int(clips) for m, (clips, seconds) in zip(methods, timed)}


def kind(run: Run) -> tuple:
    """What decides a run's cost: (dataset, fusion, method, options); seeds and alphas cost the same."""
    return (run.dataset, run.fusion, run.method, run.options)


def read_steps(path: Path) -> dict[tuple, dict[str, Any]]:
    """chapter_steps.py's records (JSON lines) by :func:`kind`."""
    records = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    if not records:
        raise ValueError(f"{path}: no benchmarks/chapter_steps.py records (one JSON object a line)")
    return {
        (r["dataset"], r["fusion"], r["method"], tuple(sorted(r["options"].items()))): r
        for r in records
    }


def clips(dataset: str) -> tuple[float, float]:
    """(training clips, validation clips) of a full-profile epoch of ``dataset``."""
    if dataset == "mosi":
        return MOSI_TRAIN, MOSI_VAL
    return RELEASE_TRAIN[dataset] * (1 - VAL_SHARE), RELEASE_TRAIN[dataset] * VAL_SHARE


def measured_epoch(run: Run, record: dict[str, Any]) -> tuple[float, str, str]:
    """(seconds of one epoch, "M", how) from the run's own kind as chapter_steps.py measured it."""
    train, val = clips(run.dataset)
    per_train = record["train_s_per_sample"] + record["hook_s_per_sample"]
    how = (
        f"measured on {record['device']}: step {1e3 * record['step_s']:.1f} ms at batch "
        f"{record['batch']}, epoch hook {1e6 * record['hook_s_per_sample']:.0f} us a training clip, "
        f"validation {1e6 * record['eval_s_per_sample']:.0f} us a clip"
    )
    return train * per_train + val * record["eval_s_per_sample"], "M", how


def epoch_seconds(
    run: Run, measured: dict[str, float], steps: dict[tuple, dict] | None = None
) -> tuple[float, str, str]:
    """(seconds of one epoch, marks (:data:`MARKS`), how it was obtained): measured where ``steps``
    holds the run's kind, else the CREMA-D epoch scaled."""
    if steps and kind(run) in steps:
        return measured_epoch(run, steps[kind(run)])
    step, multiple, how = COSTS.get(run.method, ("vanilla", 1, FLOOR))
    scale = flops_per_sample(run.dataset, run.fusion) / flops_per_sample("cremad", "concat")
    floors = {
        "mmtm": "MMTM's work beyond its FLOPs not timed",
        "mosi": "small MLPs, far below the ResNets' FLOP/s",
    }
    extra = [floors[k] for k in (run.fusion, run.dataset) if k in floors]
    marks = "E" + ("S" if scale != 1 else "") + ("F" if how == FLOOR or extra else "")
    how = "; ".join([how, *extra, f"x{scale:.3g} the FLOPs per sample of CREMA-D's"])
    return measured[step] * clips(run.dataset)[0] * scale * multiple, marks, how


@dataclass
class Line:
    """A chapter's line of the bill."""

    chapter: str
    runs: list[Run]
    hours: float
    new_runs: int
    new_hours: float
    marks: str


def bill(measured: dict[str, float], steps: dict[tuple, dict] | None = None) -> list[Line]:
    """Each chapter's GPU-hours alone and in ``make reproduce`` order (runs already cached are free); a
    chapter on several datasets gets a line per dataset."""
    by_chapter, seen, lines = chapter_runs(), set(), {}
    parts = {
        chapter: [
            (
                f"{chapter} ({dataset})" if len(datasets) > 1 else chapter,
                [run for run in runs if run.dataset == dataset],
            )
            for dataset in datasets
        ]
        or [(chapter, [])]
        for chapter, runs in by_chapter.items()
        for datasets in [list(dict.fromkeys(run.dataset for run in runs))]
    }
    for label, chapter_part in (part for chapter in REPRODUCE_ORDER for part in parts[chapter]):
        runs = list(
            dict.fromkeys(chapter_part)
        )  # a chapter's repeated run (Table 4's alpha 4) once
        timed = {run: epoch_seconds(run, measured, steps) for run in runs}
        new = [run for run in runs if run not in seen]
        seen.update(runs)
        hours = {run: run.epochs * timed[run][0] / 3600 for run in runs}
        marks = "".join(sorted(set("".join(t[1] for t in timed.values())), key="MESF".index))
        lines[label] = Line(
            label, runs, sum(hours.values()), len(new), sum(hours[r] for r in new), marks
        )
    return [lines[label] for chapter in CHAPTERS for label, _ in parts[chapter]]


def describe(runs: list[Run]) -> str:
    """``cremad, kinetics_sounds: vanilla, dgl x 3 seeds; ...``: methods grouped by fusion, seed count
    and alphas, datasets with the same groups named together."""
    per_dataset: dict[str, dict[tuple, list[str]]] = {}
    for run in runs:
        same = [r for r in runs if (r.dataset, r.method) == (run.dataset, run.method)]
        alphas = tuple(sorted({r.alpha for r in same if r.alpha is not None}))
        key = (run.fusion, len({r.seed for r in same}), alphas if len(alphas) > 1 else ())
        methods = per_dataset.setdefault(run.dataset, {}).setdefault(key, [])
        if run.method not in methods:
            methods.append(run.method)
    datasets: dict[str, list[str]] = {}
    for dataset, groups in per_dataset.items():
        parts = []
        for (fusion, seeds, alphas), methods in groups.items():
            sweep = f" x alpha {', '.join(f'{a:g}' for a in alphas)}" if alphas else ""
            kind = "" if fusion in ("concat", "esanet") else f"{fusion} fusion: "
            parts.append(f"{kind}{', '.join(methods)}{sweep} x {seeds} seeds")
        datasets.setdefault("; ".join(parts), []).append(dataset)
    return "; ".join(f"{', '.join(names)}: {text}" for text, names in datasets.items()) or "none"


def hours(value: float) -> str:
    """GPU-hours to two significant figures below 10, whole hours above, "< 0.01" below that."""
    if value == 0 or value >= 0.01:
        return "0" if value == 0 else f"{value:.2g}" if value < 10 else f"{value:.0f}"
    return "< 0.01"


def table(lines: list[Line]) -> str:
    """The markdown table of the bill, with a ``make reproduce`` total row."""
    out = [
        "| chapter | runs of the full profile | runs | GPU-hours alone "
        "| new runs in `make reproduce` | GPU-hours in `make reproduce` | how obtained |",
        "|---|---|---|---|---|---|---|",
    ]
    for line in lines:
        epochs = sorted({run.epochs for run in line.runs})
        trained = (
            f"{describe(line.runs)}; {', '.join(map(str, epochs))} epochs"
            if line.runs
            else "none on a GPU"
        )
        out.append(
            f"| {line.chapter} | {trained} | {len(line.runs)} | {hours(line.hours)} "
            f"| {line.new_runs} | {hours(line.new_hours)} | {', '.join(line.marks) or '-'} |"
        )
    total = sum(line.new_hours for line in lines)
    marks = sorted(set("".join(line.marks for line in lines)), key="MESF".index)
    out.append(
        f"| **make reproduce** | every chapter, each run once "
        f"| {sum(line.new_runs for line in lines)} | | | **{hours(total)}** "
        f"({total / 24:.1f} GPU-days) | {', '.join(marks)} |"
    )
    return "\n".join(out)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--measured", type=Path, default=ROOT / "benchmarks/results/epoch_time_h200.txt"
    )
    parser.add_argument(
        "--steps", type=Path, default=ROOT / "benchmarks/results/chapter_steps_h200.jsonl"
    )
    parser.add_argument(
        "--runs", action="store_true", help="every run with its epoch time, not the table"
    )
    args = parser.parse_args()
    measured, steps = read_measured(args.measured), read_steps(args.steps)
    if args.runs:
        for chapter, runs in chapter_runs().items():
            for run in dict.fromkeys(runs):
                seconds, marks, how = epoch_seconds(run, measured, steps)
                print(
                    f"{chapter} {run.dataset} {run.method} fusion={run.fusion} alpha={run.alpha} "
                    f"seed={run.seed} epochs={run.epochs}: {seconds:.2f} s an epoch [{marks}] {how}"
                )
        return
    print(table(bill(measured, steps)))
    print("\n" + "\n".join(f"{mark}: {what}" for mark, what in MARKS.items()))


if __name__ == "__main__":
    main()
