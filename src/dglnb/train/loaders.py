"""Data loaders whose every pass is a function of (run seed, epoch, worker), so that resume is exact."""

from __future__ import annotations

import random
from typing import Any, Iterator

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, DistributedSampler

from ..data import draws
from ..errors import RunStopped

Batch = dict[str, Any]


def _seed_worker(worker_id: int) -> None:
    """Give each DataLoader worker NumPy/Python seeds derived from its torch seed, which torch sets to
    a base seed drawn from the loader's generator plus ``worker_id``: for the training loader, whose
    generator :func:`start_epoch` reseeds every epoch, a function of (run seed, epoch, worker)."""
    seed = torch.initial_seed() % 2**32
    np.random.seed(seed)
    random.seed(seed)


def epoch_seed(seed: int, epoch: int) -> int:
    """The shuffling seed of one epoch (so a resumed run shuffles exactly as an uninterrupted one)."""
    return seed * 100_003 + epoch


def start_epoch(loader: DataLoader, seed: int, epoch: int) -> None:
    """Make the training ``loader``'s next pass epoch ``epoch`` of the run seeded ``seed``: its
    shuffle, its workers' seeds and its dataset's random draws all follow from (seed, epoch)."""
    loader.generator.manual_seed(epoch_seed(seed, epoch))
    if isinstance(
        loader.sampler, DistributedSampler
    ):  # seeded epoch_seed(seed, 0): the same permutation
        loader.sampler.set_epoch(epoch)
    draws.set_epoch(loader.dataset, seed, epoch)


def make_loader(
    dataset: Dataset, batch_size: int, *, shuffle: bool, seed: int = 0, num_workers: int = 0
) -> DataLoader:
    """A DataLoader with its own generator and seeded workers; the last partial batch is kept."""
    generator = torch.Generator()
    generator.manual_seed(seed)
    return DataLoader(
        dataset,
        batch_size=batch_size,
        shuffle=shuffle,
        num_workers=num_workers,
        generator=generator,
        worker_init_fn=_seed_worker,
        drop_last=False,
    )


def batches(loader: DataLoader, max_steps: int | None = None) -> Iterator[Batch]:
    """The loader's batches, at most ``max_steps``; a data-loader worker that dies (killed for memory,
    a crash in native code) stops the run with :class:`~dglnb.errors.RunStopped` instead of torch's traceback."""
    iterator = iter(loader)
    step = 0
    while max_steps is None or step < max_steps:
        try:
            batch = next(iterator)
        except StopIteration:
            return
        except RuntimeError as error:
            if loader.num_workers == 0:
                raise
            raise RunStopped(
                f"a data-loader worker failed: {str(error).splitlines()[0]}. Files already written (the last "
                "checkpoint, the logs) are intact. What to do: rerun with --num-workers 0 to see the error in the "
                "main process, or give the workers more memory (a larger /dev/shm); add --resume to continue"
            ) from error
        step += 1
        yield batch
