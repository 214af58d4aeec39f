"""One training run from a config: the Python API the notebooks call, and the CLI's ``dglnb train``.

``train(TrainConfig(dataset="synthetic", method="dgl", profile="quick", out=Path("runs/x")))``
writes into ``out``:

* ``metrics.json``: ``metric``, the task's primary score (``"accuracy"``, or ``"miou"`` for
  segmentation), and its values ``test_score`` and ``val_score`` (the selected epoch's; keys
  ``"multimodal"`` and each modality, a fraction in [0, 1], null where the method has no such head;
  segmentation adds ``test_pixel_accuracy`` and ``val_pixel_accuracy`` with the same keys; where
  the fusion pass holds batch norm, each head is scored with statistics of its own input pattern and
  ``test_score_running_stats`` / ``val_score_running_stats`` give the training statistics' scores, see
  :mod:`dglnb.train.evaluation`), ``linear_probe`` (per modality; null for segmentation),
  ``decoder_probe`` (per modality, segmentation; null for classification), ``best_epoch``,
  ``protocol``, ``selection`` and ``config`` (every setting that defines the run: not ``out``,
  ``resume`` or ``progress``);
* ``history.csv``: one row per epoch (see :func:`dglnb.train.loop.fit`);
* ``diagnostics.csv``: gradient sizes and s every ``diag_every`` steps (see :mod:`dglnb.train.gradients`);
* ``timing.csv``: wall-clock seconds per epoch (the only file that differs between identical runs);
* ``last.pt`` (the checkpoint ``resume`` continues from) and ``best.pt`` (the selected model).

On a CPU the same settings give the same ``metrics.json``, ``history.csv`` and ``diagnostics.csv``
byte for byte, whether the run went through uninterrupted or was killed and resumed.
Hyperparameters left as ``None`` are filled from :func:`dglnb.config.profiles.training_settings`; every
setting is checked before anything runs (:func:`resolve`).
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any, Sequence

import torch

from .. import config as settings
from ..config import TrainConfig
from ..data import DATASETS, load_dataset
from ..errors import ConfigError
from ..methods import METHODS
from ..metrics import scorer_class
from ..models import FUSIONS, build_model
from ..models.pretrained import load_pretrained_encoders
from . import distributed, splits
from .checkpoint import atomic_write_json, load_file
from .determinism import deterministic_algorithms, seed_everything, torch_threads
from .loop import fit

REGISTRIES = {"dataset": DATASETS, "method": METHODS, "fusion": FUSIONS}
METRICS = "metrics.json"  #: a finished run's numbers and settings, in its run folder
RENAMED = {
    "test_accuracy": "test_score",
    "val_accuracy": "val_score",
}  #: old metrics.json keys -> today's


def check_settings(**values: Any) -> None:
    """Check run settings by TrainConfig field name, e.g. a notebook's papermill parameters:
    ``check_settings(profile=profile, seed=seed, data_root=data_root, device=device)``.

    Dataset, method and fusion names are looked up in their registries (an UnknownNameError lists
    the valid ones), so is a profile; any other invalid value raises a
    :class:`~dglnb.errors.ConfigError` saying what a valid one is
    (:func:`dglnb.config.train_config.check_values`)."""
    for name, value in values.items():
        if name in REGISTRIES:
            REGISTRIES[name].get(value)
    settings.check_values(**values)


def resolve(config: TrainConfig) -> TrainConfig:
    """``config`` checked (names, values, the method's options) with every ``None`` hyperparameter
    taken from the profile: what a run, its cache key and its metrics.json are made of. A method
    that takes no ``alpha`` gets ``alpha=None``, so that its runs do not differ by it."""
    check_settings(dataset=config.dataset, method=config.method)
    config = config.with_profile_defaults()
    check_settings(fusion=config.fusion)
    if not METHODS.get(config.method).takes("alpha"):
        config = dataclasses.replace(config, alpha=None)
    build_method(config)
    return config


def build_method(config: TrainConfig) -> Any:
    """The training method a resolved ``config`` names, with its hyperparameters (``alpha`` for a
    method that takes it), the dataset's published defaults and ``config.method_options``; a
    :class:`~dglnb.errors.ConfigError` names a bad option."""
    options = config.method_options
    if not isinstance(options, dict) or not all(isinstance(k, str) for k in options):
        raise ConfigError(
            f"method_options must be a dict of constructor arguments; got {options!r}"
        )
    method = METHODS.get(config.method)
    run_settings = {"grad_clip": config.grad_clip, "dataset": config.dataset}
    if method.takes("alpha"):
        run_settings["alpha"] = config.alpha
    try:
        return method(**run_settings, **options)
    except (TypeError, ValueError) as error:
        raise ConfigError(f"method_options for {config.method}: {error}") from error


def _with_all_heads(scores: dict[str, float], modalities: Sequence[str]) -> dict[str, float | None]:
    """``multimodal`` and every modality, None where the method has no such head."""
    return {head: scores.get(head) for head in ("multimodal", *modalities)}


def _secondary(scores: dict[str, float], name: str) -> dict[str, float]:
    """``{head: score}`` of the secondary metric ``name`` from
    :func:`dglnb.train.evaluation.evaluate`'s ``"<head>/<name>"`` keys."""
    suffix = f"/{name}"
    return {k.removesuffix(suffix): v for k, v in scores.items() if k.endswith(suffix)}


def train(config: TrainConfig) -> dict[str, Any]:
    """Train one model as ``config`` says, write its run folder, and return the metrics dict."""
    config = resolve(config)
    if config.out is None:
        raise ConfigError(
            "TrainConfig.out is required: the folder for metrics, logs and checkpoints"
        )
    try:
        config.out.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise ConfigError(
            f"cannot create the run folder {config.out}: {error.strerror or error}"
        ) from error
    joined = distributed.start(config.device)
    try:
        with torch_threads(config.threads), deterministic_algorithms(config.deterministic):
            return _train(config)
    finally:
        if joined:
            distributed.stop()


def _train(config: TrainConfig) -> dict[str, Any]:
    out = config.out
    seed_everything(config.seed)
    info, loaders = splits.loaders(config)
    model = build_model(info, config.fusion, width=config.width, hidden=config.hidden)
    if config.augment and model.task != "classification":
        raise ConfigError(
            f"augment crops the input images only, not a {model.task} model's label maps. "
            "What to do: pass augment=False (--no-augment)"
        )
    if config.pretrained is not None:
        load_pretrained_encoders(model, config.pretrained)
    method = build_method(config)
    method.setup(model)
    model.to(config.device)

    result = fit(model, method, loaders, config, out)
    primary, *others = scorer_class(model.task).names
    metrics = {
        "metric": primary,
        "test_score": _with_all_heads(result["test_scores"], info.modalities),
        "val_score": _with_all_heads(result["val_scores"], info.modalities),
        **{
            f"{split}_{name}": _with_all_heads(
                _secondary(result[f"{split}_scores"], name), info.modalities
            )
            for split in ("test", "val")
            for name in others
        },
        # where heads were scored with recalibrated statistics, the training statistics' scores beside them
        **{
            f"{split}_score_running_stats": _with_all_heads(
                result[f"{split}_running_stats_scores"], info.modalities
            )
            for split in ("test", "val")
            if f"{split}_running_stats_scores" in result
        },
        "linear_probe": result.get("linear_probe"),
        "decoder_probe": result.get("decoder_probe"),
        "best_epoch": result["best_epoch"],
        "protocol": config.protocol,
        "selection": config.selection,
        "config": config.to_json(),
    }
    if distributed.is_writer():
        atomic_write_json(metrics, out / METRICS)
    return metrics


def read_metrics(run_dir: Path) -> dict[str, Any]:
    """The ``metrics.json`` of the finished run in ``run_dir``. A run written before the primary score
    was named for what it holds is read under today's names (:data:`RENAMED`): its ``test_accuracy``
    and ``val_accuracy`` (mIoU for segmentation) become ``test_score`` and ``val_score``."""
    path = Path(run_dir) / METRICS
    if not path.is_file():
        raise FileNotFoundError(f"{run_dir} holds no finished run (no {METRICS}): train it first")
    metrics = json.loads(path.read_text())
    return {RENAMED.get(key, key): value for key, value in metrics.items()}


def train_and_report(config: TrainConfig) -> dict[str, Any]:
    """``dglnb train``: train, print the test scores and the linear probes, return the metrics."""
    metrics = train(config)
    heads = ", ".join(f"{h} {v:.4f}" for h, v in metrics["test_score"].items() if v is not None)
    print(
        f"test {metrics['metric']} (epoch {metrics['best_epoch']}, selected on {metrics['selection']}): {heads}"
    )
    if metrics["linear_probe"] is not None:
        print(
            f"linear probe: {', '.join(f'{m} {v:.4f}' for m, v in metrics['linear_probe'].items())}"
        )
    print(f"wrote {Path(config.out) / METRICS}")
    return metrics


def load_trained(run_dir: Path, checkpoint: str = "best.pt") -> tuple[torch.nn.Module, TrainConfig]:
    """The model a finished run selected (``best.pt``) or ended with (``last.pt``), and its config; the
    checkpoint is loaded safely (:func:`~dglnb.train.checkpoint.load_file`)."""
    run_dir = Path(run_dir)
    config = resolve(TrainConfig(**read_metrics(run_dir)["config"]))
    info = load_dataset(
        config.dataset,
        "test",
        profile=config.profile,
        data_root=config.data_root,
        seed=config.data_seed,
    ).info
    model = build_model(info, config.fusion, width=config.width, hidden=config.hidden)
    build_method(config).setup(model)
    model.load_state_dict(load_file(run_dir / checkpoint, "cpu")["model"])
    return model.eval(), config
