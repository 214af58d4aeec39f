"""``dglnb sweep CONFIG.yaml``: train a grid of runs from a sweep file (its format, the grid and the
run folders: :mod:`dglnb.train.sweep_file`), or ``--collect`` its results into one table
(:mod:`dglnb.train.sweep_results`).

``launcher: local`` trains the runs in processes of this machine that inherit its environment (its GPUs
included), one after another or ``--pack N`` at a time (:mod:`dglnb.train.packing`); ``debug`` (in this
process) and ``slurm`` go through submitit's ``AutoExecutor``, with ``executor`` as its parameters
(``timeout_min`` defaults to a day per run; ``slurm_*`` ones only apply on Slurm).
A run whose folder holds ``metrics.json`` is finished and skipped (if that file records other
settings, the run is reported as failed and left alone); any other is trained with ``resume=True``,
so an interrupted run continues from its checkpoint and nothing is overwritten (a checkpoint of
other settings makes the run fail instead). A failed run is retried once; failures are reported at
the end.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

from ..config import TrainConfig
from ..errors import ConfigError
from .packing import check_launch, packed_errors
from .run import train
from .sweep_file import Sweep, load_sweep
from .sweep_results import collect

# per run; submitit's own defaults (2 or 5 minutes) would stop most runs
DEFAULT_TIMEOUT_MIN = 24 * 60


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
