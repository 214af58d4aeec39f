"""Batches of a prepared audio-visual split served from its arrays (:mod:`dglnb.data.split_arrays`):
the training loop opens no file.

:class:`ArrayAV` serves arrays in memory or mapped. Indexed by a list of sample indices it gives the
*stored* batch (uint8 frames, float16 spectrograms: the least to move); :meth:`ArrayAV.to_inputs` moves
that to the device and converts it there to exactly the batch the per-sample dataset gives through a
DataLoader (same keys, dtypes and values: both use :func:`~dglnb.data.prepared.frames_input` and
:func:`~dglnb.data.prepared.spectrogram_input`). :class:`ArrayLoader` is the DataLoader that does both:
it yields model batches on its device, in the order a shuffled per-sample DataLoader with the same
generator gives, so code written for that loader (``start_epoch``, ``to_device``, a method's own pass
over a loader) works on it unchanged. A training sample's frame is drawn as PreparedAV draws it, from
(run seed, epoch, sample) (:mod:`dglnb.data.draws`), so a resumed run repeats it and data-loader workers
draw per sample, whichever worker serves it (workers are not persistent, so each epoch's
``set_epoch`` reaches them). Arrays in memory (host, pinned or GPU) need no workers; mapped arrays
can use them.
"""

from __future__ import annotations

from typing import Any, Iterator, Sequence

import numpy as np
import torch
from torch.utils.data import BatchSampler, DataLoader, Dataset, RandomSampler, SequentialSampler

from . import to_device
from .draws import EpochDraws
from .prepared import PreparedAV, frame_picks, frames_input, spectrogram_input
from .split_arrays import Array, AVArrays, load_arrays, open_arrays, to_arrays

# with the arrays' own names (dglnb.data.split_arrays), so that one import serves a split
__all__ = ["ArrayAV", "ArrayLoader", "AVArrays", "load_arrays", "open_arrays", "to_arrays"]


def _take(array: Array, rows: np.ndarray) -> torch.Tensor:
    """``array[rows]`` as a tensor on the array's device (pinned when the array is)."""
    if isinstance(array, np.ndarray):
        return torch.from_numpy(np.ascontiguousarray(array[rows]))
    index = torch.from_numpy(rows).to(array.device)
    if not array.is_pinned():  # on a GPU, or in plain host memory
        return array[index]
    out = torch.empty((len(rows), *array.shape[1:]), dtype=array.dtype, pin_memory=True)
    return torch.index_select(array, 0, index, out=out)


class ArrayAV(EpochDraws, Dataset):
    """Batches of a PreparedAV split from its arrays: ``dataset[indices]`` is the stored batch
    (``audio`` float16 (B, F, T), ``visual`` uint8 (B, frames, H, W, 3), ``label`` int64 (B,), ``id``
    list of str) on the arrays' device; :meth:`to_inputs` makes it a model batch on a device."""

    def __init__(self, dataset: PreparedAV, arrays: AVArrays) -> None:
        self.info, self.ids = dataset.info, list(dataset.ids)
        self.frames, self.random_frames = dataset.frames, dataset.random_frames
        self.frame_side, self.pool = dataset.frame_side, dataset.pool
        self.arrays = arrays
        self.pinned = isinstance(arrays.frames, torch.Tensor) and arrays.frames.is_pinned()

    def __len__(self) -> int:
        return len(self.ids)

    def frame_rows(self, indices: Sequence[int]) -> np.ndarray:
        """The rows of ``frames`` that samples ``indices`` show now, (B, frames)."""
        a = self.arrays
        return np.array(
            [
                [
                    a.first[i] + p
                    for p in frame_picks(
                        int(a.count[i]), self.frames, self.rng(i) if self.random_frames else None
                    )
                ]
                for i in indices
            ],
            np.int64,
        )

    def __getitem__(self, indices: Sequence[int]) -> dict[str, Any]:
        rows = np.asarray(indices, np.int64)
        frame_rows = self.frame_rows(rows)
        visual = _take(self.arrays.frames, frame_rows.reshape(-1))
        return {
            "audio": _take(self.arrays.audio, rows),
            "visual": visual.reshape(*frame_rows.shape, *visual.shape[1:]),
            "label": _take(self.arrays.labels, rows),
            "id": [self.ids[i] for i in rows],
        }

    def to_inputs(self, stored: dict[str, Any], device: str | torch.device) -> dict[str, Any]:
        """A stored batch moved to ``device`` and converted there: the per-sample dataset's batch."""
        moved = to_device(stored, torch.device(device))
        return {
            **moved,
            "audio": spectrogram_input(moved["audio"], self.pool),
            "visual": frames_input(moved["visual"], self.frame_side),
        }


class ArrayLoader(DataLoader):
    """A DataLoader over an :class:`ArrayAV` that yields model batches on ``device``: the stored batches
    (gathered in workers, pinned when bound for a GPU) converted there by :meth:`ArrayAV.to_inputs`.
    Its ``generator`` orders the batches as a shuffled per-sample DataLoader with that generator would."""

    def __init__(
        self,
        dataset: ArrayAV,
        batch_size: int,
        *,
        shuffle: bool,
        seed: int = 0,
        num_workers: int = 0,
        device: str | torch.device = "cpu",
    ) -> None:
        generator = torch.Generator()
        generator.manual_seed(seed)
        order = (
            RandomSampler(dataset, generator=generator) if shuffle else SequentialSampler(dataset)
        )
        on_host = (
            isinstance(dataset.arrays.frames, np.ndarray)
            or dataset.arrays.frames.device.type == "cpu"
        )
        self.device = torch.device(device)
        super().__init__(
            dataset,
            sampler=BatchSampler(order, batch_size, drop_last=False),
            batch_size=None,
            num_workers=num_workers,
            generator=generator,
            pin_memory=self.device.type == "cuda" and on_host and not dataset.pinned,
        )

    def __iter__(self) -> Iterator[dict[str, Any]]:
        for stored in super().__iter__():
            yield self.dataset.to_inputs(stored, self.device)
