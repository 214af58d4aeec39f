"""One training run from a config: the Python API the notebooks call, and the CLI's ``dglnb train``.

``train(TrainConfig(dataset="synthetic", method="dgl", profile="quick", out=Path("runs/x")))``
writes into ``out``:

* ``metrics.json``: ``test_accuracy`` and ``val_accuracy`` (the selected epoch's; keys
  ``"multimodal"`` and each modality, a fraction in [0, 1], null where the method has no such head;
  they hold the task's primary score, named by ``metric``: ``"accuracy"``, or ``"miou"`` for
  segmentation, which adds ``test_pixel_accuracy`` and ``val_pixel_accuracy`` with the same keys),
  ``linear_probe`` (per modality; null for segmentation), ``best_epoch``, ``selection`` and
  ``config`` (every setting that defines the run: not ``out``, ``resume`` or ``progress``);
* ``history.csv``: one row per epoch (see :func:`dglnb.engine.fit`);
* ``diagnostics.csv``: gradient sizes and s every ``diag_every`` steps (see :mod:`dglnb.diagnostics`);
* ``timing.csv``: wall-clock seconds per epoch (the only file that differs between identical runs);
* ``last.pt`` (the checkpoint ``resume`` continues from) and ``best.pt`` (the selected model).

On a CPU the same settings give the same ``metrics.json``, ``history.csv`` and ``diagnostics.csv``
byte for byte, whether the run went through uninterrupted or was killed and resumed.
Hyperparameters left as ``None`` are filled from :func:`dglnb.profiles.training_settings`; every
setting is checked before anything runs (:func:`check_settings`).
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import dataclasses
import hashlib
import json
import math
import os
import re
import statistics
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

import torch

from . import __version__, engine
from .data import DATASETS, load_dataset
from .errors import ConfigError
from .methods import METHODS
from .metrics import scorer_class
from .models import FUSIONS, build_model
from .models.pretrained import load_pretrained_encoders
from .paths import runs_dir
from .profiles import check_profile, training_settings

EXECUTION_FIELDS = ("out", "resume", "progress")  # how a run is carried out, not what it computes


@dataclass
class TrainConfig:
    """Everything that defines a run; ``None`` hyperparameters come from the dataset's profile."""

    dataset: str
    method: str
    fusion: str = "concat"
    profile: str = "quick"
    seed: int = 0
    alpha: float | None = None
    epochs: int | None = None
    data_root: Path | None = None
    pretrained: Path | None = None  # a torchvision ResNet18 state dict for the encoders (None: from scratch)
    device: str = "cpu"
    out: Path | None = None
    resume: bool = False
    selection: str = "val"  # "val" (clean protocol) or "test" (the official code's best-on-test)
    data_seed: int = 0  # fixes generated data and splits; independent of the training seed
    progress: bool = True
    num_workers: int = 0
    deterministic: bool = False  # CUDA: deterministic kernels only (slower); CPU runs are deterministic anyway
    # training hyperparameters (None: from the profile)
    lr: float | None = None
    optimizer: str | None = None  # "sgd" or "adam"
    batch_size: int | None = None
    milestones: tuple[int, ...] | None = None
    gamma: float | None = None
    momentum: float | None = None
    weight_decay: float | None = None
    grad_clip: float | None = None
    width: int | None = None
    hidden: int | None = None
    max_steps: int | None = None
    diag_every: int | None = None
    eval_batch_size: int | None = None
    threads: int | None = None
    # the method's own hyperparameters and switches, by constructor argument (e.g. {"gradient_noise": False});
    # any left out take the method's published value for ``dataset``
    method_options: dict[str, Any] = dataclasses.field(default_factory=dict)

    def resolved(self) -> TrainConfig:
        """A checked copy with every ``None`` hyperparameter taken from the profile; a
        :class:`~dglnb.errors.ConfigError` (or an UnknownNameError) says which setting is wrong."""
        check_settings(profile=self.profile, dataset=self.dataset, method=self.method, fusion=self.fusion)
        defaults = training_settings(self.dataset, self.profile)
        values = {k: v if getattr(self, k) is None else getattr(self, k) for k, v in defaults.items()}
        check_settings(**{**dataclasses.asdict(self), **values})
        values["milestones"] = tuple(values["milestones"])
        paths = {k: Path(getattr(self, k)) for k in ("out", "data_root", "pretrained") if getattr(self, k) is not None}
        config = dataclasses.replace(self, **values, **paths)
        build_method(config)  # checks method_options
        return config

    def to_json(self) -> dict[str, Any]:
        """The settings that define the run (not ``EXECUTION_FIELDS``), JSON-ready (paths as strings)."""
        return {k: str(v) if isinstance(v, Path) else v for k, v in dataclasses.asdict(self).items()
                if k not in EXECUTION_FIELDS}


# ----------------------------------------------------------------------------- checking settings
# A check takes a value and returns None if it is valid, else what a valid value is.
Check = Callable[[Any], str | None]


def _integer(low: int, high: int | None = None) -> Check:
    """An int (not a bool) in [low, high)."""
    def check(v: Any) -> str | None:
        if isinstance(v, bool) or not isinstance(v, int) or v < low or (high is not None and v >= high):
            return f"an integer >= {low}" + ("" if high is None else f" and < {high}")
        return None
    return check


def _number(low: float, *, inclusive: bool) -> Check:
    """A finite real number above ``low`` (or equal to it, when ``inclusive``)."""
    def check(v: Any) -> str | None:
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or v < low \
                or (v == low and not inclusive):
            return f"a number {'>=' if inclusive else '>'} {low}"
        return None
    return check


def _optional(check: Check) -> Check:
    """``check``, or None."""
    def optional(v: Any) -> str | None:
        problem = None if v is None else check(v)
        return None if problem is None else f"{problem}, or None"
    return optional


def _flag(v: Any) -> str | None:
    """A bool."""
    return None if isinstance(v, bool) else "True or False"


def _milestones(v: Any) -> str | None:
    """Strictly increasing epoch numbers >= 1 (possibly none)."""
    ok = isinstance(v, (list, tuple)) and all(_integer(1)(m) is None for m in v) and list(v) == sorted(set(v))
    return None if ok else "increasing epoch numbers >= 1, e.g. (70,)"


def _device(v: Any) -> str | None:
    """A device torch has here: cpu, or a CUDA device that exists."""
    if not isinstance(v, str) or not re.fullmatch(r"cpu|cuda(:\d+)?", v):
        return "'cpu', 'cuda' or 'cuda:N'"
    if v.startswith("cuda") and not torch.cuda.is_available():
        return f"'cpu' on this machine: torch {torch.__version__} sees no CUDA GPU"
    if v.startswith("cuda:") and int(v[5:]) >= torch.cuda.device_count():
        return f"one of cuda:0..cuda:{torch.cuda.device_count() - 1}"
    return None


def _data_root(v: Any) -> str | None:
    """None (embedded data) or an existing path; whether it is prepared is the dataset loader's check."""
    if v is None or isinstance(v, (str, os.PathLike)) and Path(v).exists():
        return None
    return ("an existing path: prepare the dataset with its data_prep/ script (see data_prep/README.md) "
            "and pass the folder it wrote")


def _pretrained(v: Any) -> str | None:
    """None (train from scratch) or an existing file; whether it fits is checked when it is loaded."""
    if v is None or isinstance(v, (str, os.PathLike)) and Path(v).is_file():
        return None
    return "an existing file: a torchvision ResNet18 state dict saved with torch.save, or None"


def _out(v: Any) -> str | None:
    """None or a path that is not an existing file (train() creates the folder)."""
    return "a folder, not a file" if v is not None and Path(v).is_file() else None


def _one_of(names: Sequence[str]) -> Check:
    """One of ``names``."""
    return lambda v: None if v in names else f"one of {', '.join(names)}"


_CHECKS: dict[str, Check] = {
    "seed": _integer(0, 2**32), "data_seed": _integer(0, 2**32), "epochs": _integer(1),
    "alpha": _number(0, inclusive=True), "lr": _number(0, inclusive=False), "batch_size": _integer(1),
    "eval_batch_size": _optional(_integer(1)), "gamma": _number(0, inclusive=False),
    "momentum": _number(0, inclusive=True), "weight_decay": _number(0, inclusive=True),
    "grad_clip": _optional(_number(0, inclusive=False)), "width": _integer(1), "hidden": _integer(1),
    "max_steps": _optional(_integer(1)), "diag_every": _integer(0), "threads": _optional(_integer(1)),
    "num_workers": _integer(0), "milestones": _milestones, "selection": _one_of(engine.SELECTIONS),
    "optimizer": _one_of(engine.OPTIMIZERS),
    "device": _device, "data_root": _data_root, "pretrained": _pretrained, "out": _out,
    "resume": _flag, "progress": _flag, "deterministic": _flag,
    "method_options": lambda v: None if isinstance(v, dict) else "a dict of the method's options, e.g. {'gamma': 1.5}",
}


def check_settings(**settings: Any) -> None:
    """Check run settings by TrainConfig field name, e.g. a notebook's papermill parameters:
    ``check_settings(profile=profile, seed=seed, data_root=data_root, device=device)``.

    Unknown profile, dataset, method or fusion names raise an UnknownNameError listing the valid
    ones; any other invalid value a :class:`~dglnb.errors.ConfigError` saying what a valid one is.
    """
    unknown = set(settings) - {f.name for f in dataclasses.fields(TrainConfig)}
    if unknown:
        raise ConfigError(f"unknown settings {sorted(unknown)}; TrainConfig has no such fields")
    registries = {"dataset": DATASETS, "method": METHODS, "fusion": FUSIONS}
    for name, value in settings.items():
        if name == "profile":
            check_profile(value)
        elif name in registries:
            registries[name].get(value)
        elif name in _CHECKS and (problem := _CHECKS[name](value)) is not None:
            raise ConfigError(f"{name} must be {problem}; got {str(value) if isinstance(value, Path) else value!r}")


def build_method(config: TrainConfig) -> Any:
    """The training method ``config`` names, with its hyperparameters, the dataset's published
    defaults and ``config.method_options``; a :class:`~dglnb.errors.ConfigError` names a bad option."""
    options = config.method_options
    if not isinstance(options, dict) or not all(isinstance(k, str) for k in options):
        raise ConfigError(f"method_options must be a dict of constructor arguments; got {options!r}")
    try:
        return METHODS.get(config.method)(alpha=config.alpha, grad_clip=config.grad_clip, dataset=config.dataset,
                                          **options)
    except (TypeError, ValueError) as error:
        raise ConfigError(f"method_options for {config.method}: {error}") from error


def _loaders(config: TrainConfig) -> tuple[Any, dict[str, torch.utils.data.DataLoader]]:
    """The dataset info and the loaders the engine needs."""
    def split(name: str):
        return load_dataset(config.dataset, name, profile=config.profile, data_root=config.data_root, seed=config.data_seed)

    train, val, test = split("train"), split("val"), split("test")
    bs, workers = config.eval_batch_size or config.batch_size, config.num_workers
    loaders = {
        "train": engine.make_loader(train, config.batch_size, shuffle=True, seed=config.seed, num_workers=workers),
        # its own copy of the split: the loop sets each epoch's random draws on ``train`` only (dglnb.data.draws)
        "train_eval": engine.make_loader(copy.copy(train), bs, shuffle=False, num_workers=workers),
        "val": engine.make_loader(val, bs, shuffle=False, num_workers=workers),
        "test": engine.make_loader(test, bs, shuffle=False, num_workers=workers),
    }
    return train.info, loaders


def _with_all_heads(accuracy: dict[str, float], modalities: Sequence[str]) -> dict[str, float | None]:
    """``multimodal`` and every modality, None where the method has no such head."""
    return {head: accuracy.get(head) for head in ("multimodal", *modalities)}


def _secondary(scores: dict[str, float], name: str) -> dict[str, float]:
    """``{head: score}`` of the secondary metric ``name`` from :func:`engine.evaluate`'s ``"<head>/<name>"`` keys."""
    suffix = f"/{name}"
    return {k.removesuffix(suffix): v for k, v in scores.items() if k.endswith(suffix)}


@contextlib.contextmanager
def torch_threads(n: int | None) -> Iterator[None]:
    """Run with ``n`` torch CPU threads (unchanged if None), restoring the previous count on exit."""
    before = torch.get_num_threads()
    if n:
        torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def train(config: TrainConfig) -> dict[str, Any]:
    """Train one model as ``config`` says, write its run folder, and return the metrics dict."""
    config = config.resolved()
    if config.out is None:
        raise ConfigError("TrainConfig.out is required: the folder for metrics, logs and checkpoints")
    try:
        config.out.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise ConfigError(f"cannot create the run folder {config.out}: {error.strerror or error}") from error
    with torch_threads(config.threads), engine.deterministic_algorithms(config.deterministic):
        return _train(config)


def _train(config: TrainConfig) -> dict[str, Any]:
    out = config.out
    engine.seed_everything(config.seed)
    info, loaders = _loaders(config)
    model = build_model(info, config.fusion, width=config.width, hidden=config.hidden)
    if config.pretrained is not None:
        load_pretrained_encoders(model, config.pretrained)
    method = build_method(config)
    method.setup(model)
    model.to(config.device)

    result = engine.fit(model, method, loaders, config, out)
    primary, *others = scorer_class(model.task).names
    metrics = {
        "metric": primary,
        "test_accuracy": _with_all_heads(result["test_accuracy"], info.modalities),
        "val_accuracy": _with_all_heads(result["val_accuracy"], info.modalities),
        **{f"{split}_{name}": _with_all_heads(_secondary(result[f"{split}_accuracy"], name), info.modalities)
           for split in ("test", "val") for name in others},
        "linear_probe": result["linear_probe"],
        "best_epoch": result["best_epoch"],
        "selection": config.selection,
        "config": config.to_json(),
    }
    engine.atomic_write_json(metrics, out / "metrics.json")
    return metrics


def train_seeds(config: TrainConfig, seeds: Sequence[int]) -> dict[str, Any]:
    """Train once per seed and summarise: ``{"runs": [...], "summary": ..., "dirs": [...]}``.

    With ``config.out`` set, seed ``k`` trains into ``out/seed<k>``; with ``config.out=None`` each seed's
    run lives in the run cache (:func:`cached_run_dir`), where a finished run is read and never
    trained again, so that chapters share the runs of a build. ``summary`` maps each metric
    (``"test_accuracy.multimodal"``, ``"linear_probe.hard"``, ...) to ``{"mean", "std", "n"}`` over the
    seeds where it is defined (std: sample standard deviation, 0 for one seed).
    """
    configs = [dataclasses.replace(config, seed=s) for s in seeds]
    if config.out is None:
        dirs = [cached_run_dir(c) for c in configs]
        runs = [train_cached(c) for c in configs]
    else:
        dirs = seed_run_dirs(config.out, seeds)
        runs = [train(dataclasses.replace(c, out=d)) for c, d in zip(configs, dirs)]
    return {"runs": runs, "summary": summarize(runs), "dirs": dirs}


def seed_run_dirs(out: Path, seeds: Sequence[int]) -> list[Path]:
    """The run folders :func:`train_seeds` writes under ``out``, one per seed."""
    return [Path(out) / f"seed{s}" for s in seeds]


def run_key(config: TrainConfig) -> str:
    """A short hash of everything that determines a run: every setting of the resolved config
    (method, dataset, profile, seed, hyperparameters, options) and the dglnb version."""
    settings = {"dglnb": __version__, **config.resolved().to_json()}
    return hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:16]


def cached_run_dir(config: TrainConfig) -> Path:
    """The run cache's folder for ``config``: ``build/runs/<profile>/cache/<dataset>-<fusion>-<method>-seed<k>-<key>``."""
    name = f"{config.dataset}-{config.fusion}-{config.method}-seed{config.seed}-{run_key(config)}"
    return runs_dir(config.profile, "cache") / name


def train_cached(config: TrainConfig) -> dict[str, Any]:
    """The metrics of ``config``'s run: read from the run cache when it finished there before (its
    settings checked), else trained there (continuing an interrupted run from its checkpoint)."""
    out = cached_run_dir(config)
    finished = out / "metrics.json"
    settings = json.loads(json.dumps(config.resolved().to_json()))  # as metrics.json holds them
    if not finished.is_file() or json.loads(finished.read_text())["config"] != settings:
        train(dataclasses.replace(config, out=out, resume=True))
    return json.loads(finished.read_text())


def summarize(runs: Sequence[dict[str, Any]]) -> dict[str, dict[str, float]]:
    """Mean, sample std and count per metric over several runs' metrics dicts (nulls skipped)."""
    values: dict[str, list[float]] = {}
    for run in runs:
        for group in ("test_accuracy", "val_accuracy", "test_pixel_accuracy", "val_pixel_accuracy", "linear_probe"):
            for head, v in (run.get(group) or {}).items():
                if v is not None:
                    values.setdefault(f"{group}.{head}", []).append(v)
    return {
        name: {"mean": statistics.fmean(v), "std": statistics.stdev(v) if len(v) > 1 else 0.0, "n": len(v)}
        for name, v in values.items()
    }


def config_from_args(args: argparse.Namespace) -> TrainConfig:
    """A TrainConfig from ``dglnb train``'s arguments (only the ones the parser defines)."""
    names = {f.name for f in dataclasses.fields(TrainConfig)}
    values = {k: v for k, v in vars(args).items() if k in names}
    values["method_options"] = dict(values.get("method_options") or ())
    return TrainConfig(**values)


def train_from_args(args: argparse.Namespace) -> dict[str, Any]:
    """``dglnb train``: train, print the test accuracies, return the metrics."""
    metrics = train(config_from_args(args))
    heads = ", ".join(f"{h} {v:.4f}" for h, v in metrics["test_accuracy"].items() if v is not None)
    print(f"test {metrics['metric']} (epoch {metrics['best_epoch']}, selected on {metrics['selection']}): {heads}")
    if metrics["linear_probe"] is not None:
        print(f"linear probe: {', '.join(f'{m} {v:.4f}' for m, v in metrics['linear_probe'].items())}")
    print(f"wrote {Path(args.out) / 'metrics.json'}")
    return metrics


def load_trained(run_dir: Path, checkpoint: str = "best.pt") -> tuple[torch.nn.Module, TrainConfig]:
    """The model a finished run selected (``best.pt``) or ended with (``last.pt``), and its config."""
    run_dir = Path(run_dir)
    metrics = run_dir / "metrics.json"
    if not metrics.is_file():
        raise FileNotFoundError(f"{run_dir} holds no finished run (no metrics.json): train it first")
    config = TrainConfig(**json.loads(metrics.read_text())["config"]).resolved()
    info = load_dataset(config.dataset, "test", profile=config.profile, data_root=config.data_root, seed=config.data_seed).info
    model = build_model(info, config.fusion, width=config.width, hidden=config.hidden)
    build_method(config).setup(model)
    model.load_state_dict(torch.load(run_dir / checkpoint, map_location="cpu", weights_only=False)["model"])
    return model.eval(), config
