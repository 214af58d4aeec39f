"""Random draws a dataset makes while training (a random frame, an augmentation), reproducible exactly.

A dataset with such draws subclasses :class:`EpochDraws` and takes every draw for sample ``index``
from ``self.rng(index)``. Before each training epoch the loop calls ``set_epoch(seed, epoch)``
(see :func:`set_epoch`), so the draws are a function of (run seed, epoch, sample) alone: the same in
a resumed run as in an uninterrupted one, in whichever data-loader worker loads the sample, and
with any number of workers; different from sample to sample and from epoch to epoch. Nothing needs
saving in a checkpoint. A dataset that was never told an epoch draws nothing (``rng`` gives
None): that is how val, test and the linear probe's copy of the training split see un-augmented
inputs.
"""

from __future__ import annotations

from typing import Any

import numpy as np


class EpochDraws:
    """Mixin for a dataset whose training items involve random draws."""

    draws: tuple[int, int] | None = (
        None  # (run seed, epoch) of the epoch being served, or None: no draws
    )

    def set_epoch(self, seed: int, epoch: int) -> None:
        """Serve ``epoch`` of the run seeded ``seed``: its draws from now on."""
        self.draws = (seed, epoch)

    def rng(self, index: int) -> np.random.Generator | None:
        """The generator of sample ``index`` in the current epoch; None when no epoch was set."""
        return None if self.draws is None else np.random.default_rng((*self.draws, index))


def set_epoch(dataset: Any, seed: int, epoch: int) -> None:
    """Tell ``dataset`` the epoch it serves, if it makes random draws (any other dataset is left alone)."""
    if isinstance(dataset, EpochDraws):
        dataset.set_epoch(seed, epoch)
    for part in getattr(dataset, "datasets", ()):  # a ConcatDataset of splits
        set_epoch(part, seed, epoch)
