"""A prepared audio-visual split (:class:`~dglnb.data.prepared.PreparedAV`: CREMA-D, Kinetics-Sounds,
VGGSound) as contiguous arrays, in memory or in a folder of ``.npy`` files; :mod:`dglnb.data.memory`
serves batches from them.

The arrays of a split of N samples with M frames in all::

    audio   (N, F, T)     float16  spectrograms, as stored
    frames  (M, H, W, 3)  uint8    every sample's frames, sample after sample
    first   (N,)          int64    the row of each sample's first frame in ``frames``
    count   (N,)          int64    its number of frames
    labels  (N,)          int64

:func:`load_arrays` reads them into memory (optionally pinned, or onto a CUDA device). For a set too
large for memory (VGGSound), :func:`to_arrays` writes them once as ``.npy`` files into a folder (each
array under a temporary name, then renamed; ``ids.json`` last, so a folder without it is unfinished)
and :func:`open_arrays` maps them with ``np.load(mmap_mode="r")``.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch

from .errors import DataError
from .prepared import PreparedAV

NAMES = ("audio", "frames", "first", "count", "labels")
IDS = "ids.json"

Array = Any  # np.ndarray (memory-mapped) or torch.Tensor (in memory)


@dataclass
class AVArrays:
    """A split's arrays (see the module docstring); ``folder`` is where they are mapped from, if they are."""

    audio: Array
    frames: Array
    first: np.ndarray
    count: np.ndarray
    labels: Array
    folder: Path | None = None

    def __reduce__(self) -> Any:
        """Mapped arrays travel to a data-loader worker as their folder (reopened there), never as a copy."""
        if self.folder is None:
            return super().__reduce__()
        return _map_folder, (self.folder,)


def _layout(dataset: PreparedAV) -> tuple[np.ndarray, tuple[int, ...], tuple[int, ...]]:
    """(frames per sample, spectrogram shape, frame shape), read from the file headers alone."""
    audio_shapes = {
        np.load(dataset.root / "audio" / f"{i}.npy", mmap_mode="r").shape for i in dataset.ids
    }
    visual = [
        np.load(dataset.root / "visual" / f"{i}.npy", mmap_mode="r").shape for i in dataset.ids
    ]
    frame_shapes = {shape[1:] for shape in visual}
    if len(audio_shapes) != 1 or len(frame_shapes) != 1:
        raise DataError(
            f"{dataset.root}: samples differ in spectrogram shape ({sorted(audio_shapes)}) or frame shape "
            f"({sorted(frame_shapes)}). What to do: re-run the data_prep script into a fresh folder"
        )
    return (
        np.array([shape[0] for shape in visual], np.int64),
        audio_shapes.pop(),
        frame_shapes.pop(),
    )


def _fill(
    dataset: PreparedAV, allocate: Callable[[str, tuple[int, ...], np.dtype], np.ndarray]
) -> dict[str, np.ndarray]:
    """Every array of ``dataset``, each written into the buffer ``allocate(name, shape, dtype)`` returns."""
    count, audio_shape, frame_shape = _layout(dataset)
    first = np.concatenate([[0], np.cumsum(count)[:-1]]).astype(np.int64)
    arrays = {
        "audio": allocate("audio", (len(count), *audio_shape), np.dtype(np.float16)),
        "frames": allocate("frames", (int(count.sum()), *frame_shape), np.dtype(np.uint8)),
    }
    for n, sample_id in enumerate(dataset.ids):
        arrays["audio"][n] = np.load(dataset.root / "audio" / f"{sample_id}.npy")
        arrays["frames"][first[n] : first[n] + count[n]] = np.load(
            dataset.root / "visual" / f"{sample_id}.npy"
        )
    for name, values in (
        ("first", first),
        ("count", count),
        ("labels", np.array(dataset.labels, np.int64)),
    ):
        arrays[name] = allocate(name, values.shape, values.dtype)
        arrays[name][...] = values
    return arrays


def load_arrays(
    dataset: PreparedAV, *, device: str | torch.device = "cpu", pin: bool = False
) -> AVArrays:
    """``dataset``'s arrays in memory: on ``device`` (a CUDA device holds them in GPU memory), in pinned
    host memory with ``pin`` (CPU only; batches then reach a GPU asynchronously)."""
    device = torch.device(device)
    if pin and (device.type != "cpu" or not torch.cuda.is_available()):
        raise DataError(
            "pinned memory is host memory for a CUDA device: pin=True needs device='cpu' and CUDA. "
            "What to do: pass pin=False, or device='cuda' to hold the arrays on the GPU"
        )
    tensors: dict[str, torch.Tensor] = {}

    def allocate(name: str, shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
        tensors[name] = torch.empty(shape, dtype=getattr(torch, dtype.name), pin_memory=pin)
        return tensors[name].numpy()

    _fill(dataset, allocate)
    return AVArrays(
        audio=tensors["audio"].to(device),
        frames=tensors["frames"].to(device),
        first=tensors["first"].numpy(),
        count=tensors["count"].numpy(),
        labels=tensors["labels"].to(device),
    )


def to_arrays(dataset: PreparedAV, folder: Path) -> Path:
    """Write ``dataset``'s arrays into ``folder`` (``<name>.npy`` and ``ids.json``), each file under a
    temporary name first and renamed when complete. Memory use stays at one sample. Returns ``folder``."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / IDS).unlink(missing_ok=True)  # the folder is unfinished until ids.json is back
    temporary: dict[str, Path] = {}

    def allocate(name: str, shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
        temporary[name] = folder / f".{name}.npy.{os.getpid()}.tmp"
        return np.lib.format.open_memmap(temporary[name], mode="w+", dtype=dtype, shape=shape)

    try:
        arrays = _fill(dataset, allocate)
        for name, array in arrays.items():
            array.flush()
            _fsync(temporary[name])
            os.replace(temporary[name], folder / f"{name}.npy")
        _write_atomically(folder / IDS, json.dumps({"ids": list(dataset.ids)}).encode())
    finally:
        for path in temporary.values():
            path.unlink(missing_ok=True)
    return folder


def _fsync(path: Path) -> None:
    with open(path, "rb+") as handle:
        os.fsync(handle.fileno())


def _write_atomically(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


def open_arrays(dataset: PreparedAV, folder: Path) -> AVArrays:
    """The arrays :func:`to_arrays` wrote into ``folder`` for ``dataset``, memory-mapped; DataError when
    they are missing, unfinished, corrupt or of another split."""
    folder = Path(folder)
    arrays = _map_folder(folder)
    if _read_ids(folder) != list(dataset.ids) or not np.array_equal(arrays.labels, dataset.labels):
        raise DataError(
            f"{folder} holds the arrays of other samples (another split, or an older prep). "
            f"What to do: {_fix(folder)}"
        )
    return arrays


def _fix(folder: Path) -> str:
    return f"re-run to_arrays(dataset, {str(folder)!r})"


def _read_ids(folder: Path) -> list[str]:
    """The sample ids ``ids.json`` lists (written last: without it the folder is unfinished)."""
    try:
        return list(json.loads((folder / IDS).read_text())["ids"])
    except FileNotFoundError:
        raise DataError(
            f"{folder} holds no finished arrays (no {IDS}). What to do: {_fix(folder)}"
        ) from None
    except (ValueError, KeyError, TypeError) as error:
        raise DataError(
            f"{folder / IDS} is corrupt ({error}). What to do: {_fix(folder)}"
        ) from error


def _map_folder(folder: Path) -> AVArrays:
    """Map every array of ``folder`` and check that they fit together."""
    n = len(_read_ids(folder))
    fix = f"What to do: {_fix(folder)}"
    arrays: dict[str, np.ndarray] = {}
    for name in NAMES:
        try:
            arrays[name] = np.load(folder / f"{name}.npy", mmap_mode="r")
        except (OSError, ValueError, EOFError) as error:
            raise DataError(
                f"{folder / (name + '.npy')} is missing, corrupt or half-written ({error}). {fix}"
            ) from error
    first, count = np.array(arrays["first"]), np.array(arrays["count"])
    fits = (
        arrays["audio"].dtype == np.float16
        and arrays["audio"].ndim == 3
        and len(arrays["audio"]) == n
        and arrays["frames"].dtype == np.uint8
        and arrays["frames"].ndim == 4
        and all(
            arrays[k].shape == (n,) and arrays[k].dtype == np.int64
            for k in ("first", "count", "labels")
        )
        and np.array_equal(first, np.concatenate([[0], np.cumsum(count)[:-1]]))
        and int(count.sum()) == len(arrays["frames"])
    )
    if not fits:
        raise DataError(
            f"the arrays in {folder} do not fit together (shapes, dtypes or frame offsets). {fix}"
        )
    return AVArrays(
        audio=arrays["audio"],
        frames=arrays["frames"],
        first=first,
        count=count,
        labels=arrays["labels"],
        folder=folder,
    )
