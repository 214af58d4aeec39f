"""``dglnb sweep CONFIG.yaml``: a grid of training runs (methods x datasets x seeds x options) from a YAML file.

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

``launcher: local`` trains the runs in processes of this machine that inherit its environment (its GPUs
included), one after another or ``--pack N`` at a time (:mod:`dglnb.train.packing`); ``debug`` (in this
process) and ``slurm`` go through submitit's ``AutoExecutor``, with ``executor`` as its parameters
(``timeout_min`` defaults to a day per run; ``slurm_*`` ones only apply on Slurm).
Each run's folder follows from its settings: ``out/<dataset>/<method>/<options>/seed<k>``, with
``<options>`` the run's ``name=value`` settings joined by commas (``default`` when there are none;
``data_root``, ``device`` and ``num_workers`` are left out of the name).
A run whose folder holds ``metrics.json`` is finished and skipped (if that file records other
settings, the run is reported as failed and left alone); any other is trained with ``resume=True``,
so an interrupted run continues from its checkpoint and nothing is overwritten (a checkpoint of
other settings makes the run fail instead). A failed run is retried once; failures are reported at
the end. Every name and value is checked before the first run starts.

``dglnb sweep CONFIG.yaml --collect`` writes ``out/results.csv`` (and ``results.parquet`` when pyarrow is
installed): one row per finished run, with ``method``, ``dataset``, ``seed``, one column per option,
the metrics (``metric``, ``test_score.multimodal``, ``linear_probe.<modality>``, ...) and ``run_dir``.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping

import pandas as pd
import yaml

from ..config import EXECUTION_FIELDS, TrainConfig
from ..data import DATASETS
from ..errors import ConfigError
from ..methods import METHODS
from .packing import check_launch, packed_errors
from .run import METRICS, read_metrics, resolve, train

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
UNNAMED = (
    "data_root",
    "device",
    "num_workers",
)  # where and how a run is carried out: not in folder names
DEFAULT_TIMEOUT_MIN = (
    24 * 60
)  # per run; submitit's own defaults (2 or 5 minutes) would stop most runs


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
        wanted = json.loads(
            json.dumps(resolve(self.config(profile)).to_json())
        )  # as metrics.json holds it
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


def train_run(config: TrainConfig) -> str:
    """The job a launcher runs: train (resuming) and return the run folder."""
    train(config)
    return str(config.out)


def make_executor(sweep: Sweep) -> Any:
    """submitit's executor for ``sweep.launcher`` (``AutoExecutor`` over its Debug or Slurm executor),
    with the sweep's ``executor`` parameters, which submitit checks by name."""
    import submitit

    try:
        executor = submitit.AutoExecutor(sweep.out / ".submitit", cluster=sweep.launcher)
        executor.update_parameters(
            **{"timeout_min": DEFAULT_TIMEOUT_MIN, "name": "dglnb-sweep", **sweep.executor}
        )
    except (NameError, ValueError, TypeError, RuntimeError) as error:
        raise ConfigError(f"launcher {sweep.launcher}: {str(error).splitlines()[0]}") from error
    return executor


def _error(job: Any) -> BaseException | None:
    """The job's error once it has ended (None if it succeeded); a debug job runs here."""
    try:
        return job.exception()
    except Exception as error:  # a job that never completed (killed, timed out)
        return error


def _message(error: BaseException) -> str:
    """The last line of an error (a job's error carries the whole traceback)."""
    lines = str(error).strip().splitlines()
    return lines[-1] if lines else repr(error)


def _errors(
    executor: Any, configs: list[TrainConfig], sequential: bool, job: Callable[[TrainConfig], str]
) -> list[BaseException | None]:
    """Run ``job`` on each config, one after another or all submitted at once; each one's error, or None."""
    if sequential:
        return [_error(executor.submit(job, config)) for config in configs]
    with executor.batch():
        jobs = [executor.submit(job, config) for config in configs]
    return [_error(j) for j in jobs]


def run_sweep(
    sweep: Sweep,
    job: Callable[[TrainConfig], str] = train_run,
    log: Callable[[str], None] = print,
    pack: int = 1,
) -> dict[str, Any]:
    """Train every unfinished run of ``sweep`` (locally one after another or ``pack`` at a time, or all at
    once on Slurm), retrying each failed run once. Returns ``{"skipped": [...], "trained": [...], "failed":
    {folder: error}}``."""
    check_launch(pack, sweep.launcher, sweep.executor)
    executor = None if sweep.launcher == "local" else make_executor(sweep)
    conflicts = {
        str(run.out): f"holds a finished run of other settings ({other}); use another out"
        for run in sweep.runs
        if run.finished and (other := run.other_settings(sweep.profile))
    }
    skipped = [str(run.out) for run in sweep.runs if run.finished and str(run.out) not in conflicts]
    todo = [run for run in sweep.runs if not run.finished]
    log(
        f"{len(sweep.runs)} runs: {len(skipped)} finished, {len(todo)} to train ({sweep.launcher}"
        f"{f', {pack} at a time' if pack > 1 else ''})"
    )
    failed: dict[str, str] = {}
    for attempt in ("failed, retrying", "failed again"):
        configs = [run.config(sweep.profile) for run in todo]
        errors = (
            packed_errors(configs, job, pack)
            if executor is None
            else _errors(executor, configs, sweep.launcher == "debug", job)
        )
        failed = {
            str(run.out): _message(error) for run, error in zip(todo, errors) if error is not None
        }
        for folder, message in failed.items():
            log(f"{attempt}: {folder}: {message}")
        todo = [run for run in todo if str(run.out) in failed]
        if not todo:
            break
    trained = [
        str(run.out)
        for run in sweep.runs
        if run.finished and str(run.out) not in skipped + list(conflicts)
    ]
    for folder, message in conflicts.items():
        log(f"not trained: {folder}: {message}")
    return {"skipped": skipped, "trained": trained, "failed": {**conflicts, **failed}}


def _flatten(metrics: Mapping[str, Any]) -> dict[str, Any]:
    """Metrics as columns: nested dicts joined by dots (``test_score.multimodal``); config left out."""
    row = {}
    for key, value in metrics.items():
        if key == "config":
            continue
        if isinstance(value, dict):
            row.update({f"{key}.{k}": v for k, v in value.items()})
        else:
            row[key] = value
    return row


def collect(sweep: Sweep) -> pd.DataFrame:
    """One row per finished run (method, dataset, seed, options, metrics, run_dir); written as
    ``results.csv`` (and ``results.parquet`` when pyarrow is installed) under the sweep's folder."""
    rows = []
    for run in sweep.runs:
        if run.finished and run.other_settings(sweep.profile) is None:
            metrics = read_metrics(run.out)
            rows.append(
                {
                    "method": run.method,
                    "dataset": run.dataset,
                    "seed": run.seed,
                    **{
                        k: json.dumps(v) if isinstance(v, (list, tuple)) else v
                        for k, v in run.options + run.method_options
                    },
                    **_flatten(metrics),
                    "run_dir": str(run.out),
                }
            )
    table = pd.DataFrame(rows)
    sweep.out.mkdir(parents=True, exist_ok=True)
    table.to_csv(sweep.out / "results.csv", index=False)
    try:
        import pyarrow  # noqa: F401
    except ImportError:
        pass
    else:
        table.to_parquet(sweep.out / "results.parquet", index=False)
    return table


def sweep_from_args(path: Path, collect_only: bool, pack: int = 1) -> int:
    """``dglnb sweep``: run (or collect) the sweep file ``path``, ``pack`` runs at a time; the exit status
    (1 if a run failed)."""
    sweep = load_sweep(path)
    if collect_only:
        table = collect(sweep)
        print(f"wrote {sweep.out / 'results.csv'}: {len(table)} of {len(sweep.runs)} runs finished")
        return 0
    result = run_sweep(sweep, pack=pack)
    print(
        f"{len(result['trained'])} trained, {len(result['skipped'])} already finished, "
        f"{len(result['failed'])} failed"
    )
    for folder, error in result["failed"].items():
        print(f"failed: {folder}: {error}")
    return 1 if result["failed"] else 0
