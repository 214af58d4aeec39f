"""The runs of a ``launcher: local`` sweep, as processes of this machine: one after another, or several at
once (``dglnb sweep FILE --pack N``).

Each run starts in a fresh process of its own (spawned, so no CUDA state is shared) that inherits this
one's environment, ``CUDA_VISIBLE_DEVICES`` included (submitit's local executor would hide the GPUs),
and trains on the device its settings name. Packing is for a GPU that one run leaves mostly idle (a
run of two ResNet18 encoders at CREMA-D shapes, batch 64, reaches about 7 % of an H200's dense bf16
peak: 1.78 TFLOP counted per step in the median step of benchmarks/results/step_time_h200.txt):
``N`` runs side by side, all on the same GPU with ``device: cuda``; as one run ends the next starts,
in the sweep's order. Each run still computes
exactly what it computes alone: packing changes when runs happen, not what they do.

Set ``threads`` in the sweep's options when packing on a CPU, so that the processes do not each take
every core. A process that dies without an error of its own (killed for memory) fails the runs
still waiting as well; the sweep's retry trains them again.
"""

from __future__ import annotations

import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from typing import Any, Callable

from ..config import TrainConfig
from ..errors import ConfigError


def check_launch(pack: int, launcher: str, executor: dict[str, Any]) -> None:
    """Refuse a pack size below 1, or above 1 with a launcher other than ``local``, and submitit
    parameters for the ``local`` launcher, whose runs are plain processes of this machine."""
    if pack != 1 and (pack < 1 or launcher != "local"):
        raise ConfigError(
            f"--pack {pack}: packing trains N >= 1 runs at a time on this machine, with launcher "
            f"local (this sweep's: {launcher}). What to do: set launcher: local, or drop --pack"
        )
    if launcher == "local" and executor:
        raise ConfigError(
            f"launcher local takes no executor parameters (given: {', '.join(executor)}): its runs "
            "are processes of this machine. What to do: remove executor, or use launcher slurm"
        )


def packed_errors(
    configs: list[TrainConfig], job: Callable[[TrainConfig], str], pack: int
) -> list[BaseException | None]:
    """Run ``job`` on every config, ``pack`` at a time, each in a new spawned process; each one's
    error, or None. ``job`` must be picklable (a module-level function)."""
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=pack, mp_context=context, max_tasks_per_child=1) as pool:
        futures = [pool.submit(job, config) for config in configs]
        return [future.exception() for future in futures]
