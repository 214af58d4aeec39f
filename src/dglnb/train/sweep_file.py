"""A sweep file (``dglnb sweep CONFIG.yaml``, :mod:`dglnb.train.sweep`) read, checked and expanded
into its grid of runs (methods x datasets x seeds x options).

A sweep file (see ``sweeps/table1_quick.yaml``)::

    out: runs/table1_quick          # the sweep's folder (relative to the working directory)
    launcher: local                 # local: one run after another; debug: in this process; slurm
    profile: quick
    methods: [vanilla, dgl, mla]
    datasets: [synthetic]
    seeds: [0, 1, 2]
    options: {fusion: [concat, sum], threads: 1}   # TrainConfig fields; a list is a grid axis
    method_options:                 # per method, its own options; a list is a grid axis
      mmpareto: {rescale: [tensor, encoder]}
    executor: {timeout_min: 600, slurm_partition: gpu, gpus_per_node: 1}  # submitit parameters

Each run's folder follows from its settings: ``out/<dataset>/<method>/<options>/seed<k>``, with
``<options>`` the run's ``name=value`` settings joined by commas (``default`` when there are none;
``data_root``, ``device`` and ``num_workers`` are left out of the name). Every name and value is
checked when the file is read, before the first run starts.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import yaml

from ..config import EXECUTION_FIELDS, TrainConfig
from ..data import DATASETS
from ..errors import ConfigError
from ..methods import METHODS
from .run import METRICS, read_metrics, resolve

LAUNCHERS = ("local", "debug", "slurm")
KEYS = (
    "out",
    "launcher",
    "profile",
    "methods",
    "datasets",
    "seeds",
    "options",
    "method_options",
    "executor",
)
REQUIRED = ("out", "methods", "datasets", "seeds")
AXES = ("dataset", "method", "seed", "profile", "method_options")  # settings the sweep sets itself
OPTIONS = tuple(
    f.name for f in dataclasses.fields(TrainConfig) if f.name not in AXES + EXECUTION_FIELDS
)
# where and how a run is carried out: not in folder names
UNNAMED = ("data_root", "device", "num_workers")


@dataclass(frozen=True)
class Run:
    """One run of the grid: its settings and the folder they determine."""

    method: str
    dataset: str
    seed: int
    options: tuple[tuple[str, Any], ...]  # run settings, sorted by name
    method_options: tuple[tuple[str, Any], ...]  # the method's own options, sorted by name
    out: Path

    def config(self, profile: str) -> TrainConfig:
        return TrainConfig(
            dataset=self.dataset,
            method=self.method,
            seed=self.seed,
            profile=profile,
            method_options=dict(self.method_options),
            out=self.out,
            resume=True,
            progress=False,
            **dict(self.options),
        )

    @property
    def finished(self) -> bool:
        return (self.out / METRICS).is_file()

    def other_settings(self, profile: str) -> str | None:
        """For a finished run, what its ``metrics.json`` records differently from this run's settings
        (a sweep file changed under the same ``out``), or None."""
        saved = read_metrics(self.out)["config"]
        # as metrics.json holds it
        wanted = json.loads(json.dumps(resolve(self.config(profile)).to_json()))
        differences = [
            f"{k}={saved.get(k)!r} there, {v!r} here"
            for k, v in wanted.items()
            if saved.get(k) != v
        ]
        return "; ".join(differences) or None


@dataclass
class Sweep:
    """A checked sweep file."""

    out: Path
    launcher: str
    profile: str
    runs: list[Run]
    executor: dict[str, Any]


def _as_list(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list) else [value]


def _grid(axes: Mapping[str, Any]) -> list[tuple[tuple[str, Any], ...]]:
    """Every combination of ``axes`` (a list value is an axis, anything else a fixed value), sorted by name."""
    names = sorted(axes)
    return [
        tuple(zip(names, values))
        for values in itertools.product(*(_as_list(axes[n]) for n in names))
    ]


def _tag(settings: tuple[tuple[str, Any], ...]) -> str:
    """A folder name for ``settings`` (except ``UNNAMED``): ``name=value`` joined by commas, unsafe
    characters replaced."""
    text = ",".join(
        f"{k}={'-'.join(map(str, v)) if isinstance(v, (list, tuple)) else v}"
        for k, v in settings
        if k not in UNNAMED
    )
    return re.sub(r"[^A-Za-z0-9._=,+-]", "_", text) or "default"


def _mapping(value: Any, what: str) -> dict:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ConfigError(f"{what} must be a mapping of names to values, got {value!r}")
    return value


def _unknown(given: Any, valid: Any, what: str) -> None:
    unknown = sorted(set(given) - set(valid))
    if unknown:
        raise ConfigError(
            f"unknown {what}: {', '.join(map(str, unknown))}; valid {what}: {', '.join(valid) or 'none'}"
        )


def load_sweep(path: Path) -> Sweep:
    """Read and check a sweep file: every name, and every run's settings, before anything runs."""
    try:
        spec = yaml.safe_load(Path(path).read_text())
    except (OSError, yaml.YAMLError) as error:
        raise ConfigError(f"cannot read the sweep file {path}: {error}") from error
    spec = _mapping(spec, f"the sweep file {path}")
    _unknown(spec, KEYS, "sweep keys")
    missing = [k for k in REQUIRED if not spec.get(k)]
    if missing:
        raise ConfigError(
            f"the sweep file {path} needs {', '.join(missing)} (each a list, or a value for out)"
        )
    launcher = spec.get("launcher", "local")
    if launcher not in LAUNCHERS:
        raise ConfigError(f"unknown launcher {launcher!r}; valid launchers: {', '.join(LAUNCHERS)}")
    methods, datasets, seeds = (_as_list(spec[k]) for k in ("methods", "datasets", "seeds"))
    for name in methods:
        METHODS.get(name)
    for name in datasets:
        DATASETS.get(name)
    options = _mapping(spec.get("options"), "options")
    _unknown(options, OPTIONS, "options")
    method_options = _mapping(spec.get("method_options"), "method_options")
    _unknown(method_options, methods, "methods in method_options (methods of this sweep)")
    for method, given in method_options.items():
        _unknown(
            _mapping(given, f"method_options of {method}"),
            METHODS.get(method).options(),
            f"options of {method}",
        )

    out, profile = Path(spec["out"]), spec.get("profile", "quick")
    runs = []
    for dataset, method, seed in itertools.product(datasets, methods, seeds):
        for settings in _grid(options):
            for own in _grid(method_options.get(method, {})):
                folder = out / dataset / method / _tag(settings + own) / f"seed{seed}"
                runs.append(Run(method, dataset, seed, settings, own, folder))
    folders = [run.out for run in runs]
    if len(set(folders)) != len(folders):
        raise ConfigError(
            "two runs of the sweep would share a folder: make the option values distinct"
        )
    for run in runs:
        resolve(run.config(profile))  # every value checked before the first run
    return Sweep(out, launcher, profile, runs, _mapping(spec.get("executor"), "executor"))
