"""The loaders a run trains and evaluates on: which samples (the protocol), read how (the data path),
shared how (one process, or a torchrun process's share).

* ``protocol="honest"`` trains on the train split (val held out); ``"official"`` on train and val
  together, as the official code trains on its whole train split.
* ``data_path="files"`` reads each sample from the dataset; ``"memory"`` loads a prepared audio-visual
  split's arrays once (onto the GPU when training there) and ``"mapped"`` memory-maps them from
  ``.npy`` files written once into ``<data root>/arrays/<split>`` (:mod:`dglnb.data.memory`); no file
  is decoded inside the loop either way.
* ``train_eval`` (the linear probe's pass over the training samples, in a fixed order) is a copy of the
  training split that no epoch is ever set on, so it sees un-augmented inputs.
"""

from __future__ import annotations

import copy
from typing import Any

from torch.utils.data import ConcatDataset, DataLoader, Dataset

from ..config import TrainConfig
from ..data import load_dataset
from ..data.memory import ArrayAV, ArrayLoader, load_arrays, open_arrays, to_arrays
from ..data.prepared import PreparedAV
from ..errors import ConfigError
from . import distributed
from .loaders import epoch_seed, make_loader


def joined(train: Dataset, val: Dataset) -> Dataset:
    """Train and val as one training split: a prepared split with val's samples added (so it keeps
    its training draws and can be held as arrays), else a ConcatDataset."""
    if isinstance(train, PreparedAV):
        both = copy.copy(train)
        both.ids, both.labels = [*train.ids, *val.ids], [*train.labels, *val.labels]
        return both
    both = ConcatDataset([train, val])
    both.info = train.info
    return both


def unset_copy(dataset: Dataset) -> Dataset:
    """A copy of ``dataset`` (or of each part of a ConcatDataset) that no epoch set on the original reaches."""
    if isinstance(dataset, ConcatDataset):
        parts = ConcatDataset([copy.copy(part) for part in dataset.datasets])
        parts.info = dataset.info
        return parts
    return copy.copy(dataset)


def array_loaders(
    config: TrainConfig, named: dict[str, Dataset], sizes: dict[str, int]
) -> dict[str, DataLoader]:
    """Loaders over the splits' arrays (``config.data_path`` "memory" or "mapped"), on ``config.device``."""
    if not all(isinstance(d, PreparedAV) for d in named.values()):
        raise ConfigError(
            f"data_path {config.data_path!r} holds a prepared audio-visual dataset (cremad, "
            f"kinetics_sounds, vggsound, av_folder) as arrays; {config.dataset} is not one. "
            "What to do: use data_path 'files'"
        )
    if distributed.world_size() > 1:
        raise ConfigError(
            "torchrun runs read samples from files for now. What to do: pass --data-path files"
        )
    loaders = {}
    for name, dataset in named.items():
        if config.data_path == "memory":
            arrays = load_arrays(dataset, device=config.device)
        else:
            folder = (
                dataset.root
                / "arrays"
                / ("train+val" if name == "train" and config.protocol == "official" else name)
            )
            if not (folder / "ids.json").is_file():
                to_arrays(dataset, folder)
            arrays = open_arrays(dataset, folder)
        loaders[name] = ArrayLoader(
            ArrayAV(dataset, arrays),
            sizes[name],
            shuffle=name == "train",
            seed=config.seed,
            num_workers=config.num_workers if config.data_path == "mapped" else 0,
            device=config.device,
        )
    loaders["train_eval"] = ArrayLoader(
        ArrayAV(named["train"], loaders["train"].dataset.arrays),
        sizes["val"],
        shuffle=False,
        device=config.device,
    )
    return loaders


def loaders(config: TrainConfig) -> tuple[Any, dict[str, DataLoader]]:
    """The dataset's info and the loaders ``train`` (shuffled), ``train_eval``, ``val`` and ``test``."""

    def split(name: str) -> Dataset:
        return load_dataset(
            config.dataset,
            name,
            profile=config.profile,
            data_root=config.data_root,
            seed=config.data_seed,
        )

    train, val, test = split("train"), split("val"), split("test")
    info = train.info
    if config.protocol == "official":  # val is trained on: its scores are training scores
        train = joined(train, val)
    eval_size, workers = config.eval_batch_size or config.batch_size, config.num_workers
    train_size = distributed.local_batch_size(config.batch_size)
    if config.data_path != "files":
        sizes = {"train": train_size, "val": eval_size, "test": eval_size}
        return info, array_loaders(config, {"train": train, "val": val, "test": test}, sizes)
    shuffled = make_loader(train, train_size, shuffle=True, seed=config.seed, num_workers=workers)
    if distributed.world_size() > 1:
        shuffled = distributed.sharded_loader(shuffled, epoch_seed(config.seed, 0))
    return info, {
        "train": shuffled,
        "train_eval": make_loader(unset_copy(train), eval_size, shuffle=False, num_workers=workers),
        "val": make_loader(val, eval_size, shuffle=False, num_workers=workers),
        "test": make_loader(test, eval_size, shuffle=False, num_workers=workers),
    }
