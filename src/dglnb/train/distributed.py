"""Several processes, one run: ``torchrun --nproc_per_node N -m dglnb train ...``.

torchrun sets ``WORLD_SIZE``, ``RANK`` and ``LOCAL_RANK``; :func:`start` joins the process group (NCCL on
CUDA, gloo on CPU). Each process trains on its shard of every global batch (``batch_size`` is the
global batch; each rank takes ``batch_size / N`` samples through a ``DistributedSampler`` whose
permutation is the one a single process would draw, so global batch k holds the same samples).
Before every optimizer step each gradient becomes the mean over the global batch (each rank's
per-sample-mean gradient weighted by its share of the batch), so parameters stay identical on all
ranks and equal those of one process with the same global batch, up to float summation order, for
any method whose losses are per-sample means and whose model has no batch norm (batch-norm
statistics are per rank, as with DDP without SyncBatchNorm). Gradient clipping, where a method
applies it, acts on each rank's gradient before the average. The epoch's training losses are
averaged across ranks; val and test are evaluated whole on every rank (same model, same numbers);
rank 0 alone writes files.
"""

from __future__ import annotations

import os
from typing import Callable

import torch
import torch.distributed as dist
from torch.utils.data import DataLoader, DistributedSampler

from ..errors import ConfigError


def world_size() -> int:
    return dist.get_world_size() if dist.is_initialized() else 1


def is_writer() -> bool:
    """Whether this process writes the run's files (rank 0, or the only process)."""
    return not dist.is_initialized() or dist.get_rank() == 0


def start(device: str) -> bool:
    """Join torchrun's process group when launched by torchrun with several processes (on CUDA each
    process takes GPU ``LOCAL_RANK``, which ``device="cuda"`` then means); whether it joined one."""
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1 or dist.is_initialized():
        return False
    cuda = device.startswith("cuda")
    if cuda:
        torch.cuda.set_device(int(os.environ["LOCAL_RANK"]))
    dist.init_process_group("nccl" if cuda else "gloo")
    return True


def stop() -> None:
    if dist.is_initialized():
        dist.destroy_process_group()


def local_batch_size(batch_size: int) -> int:
    """This rank's share of a global batch of ``batch_size``."""
    n = world_size()
    if batch_size % n:
        raise ConfigError(
            f"batch_size {batch_size} is the global batch and must divide among {n} processes; "
            f"use a multiple of {n}"
        )
    return batch_size // n


class SameShuffleSampler(DistributedSampler):
    """This rank's share of the permutation a single-process loader draws in the same epoch. That
    loader's generator, seeded ``seed + epoch``, first gives its workers' base seed (one int64 draw,
    as torch's DataLoader does), then the permutation; rank r takes every N-th index from r, so that
    global batch k (N local batches k) holds the single process's batch k."""

    def __iter__(self):
        generator = torch.Generator()
        generator.manual_seed(self.seed + self.epoch)
        torch.empty((), dtype=torch.int64).random_(generator=generator)
        indices = torch.randperm(len(self.dataset), generator=generator).tolist()
        indices += indices[: self.total_size - len(indices)]  # padded to divide among the ranks
        return iter(indices[self.rank : self.total_size : self.num_replicas])


def sharded_loader(loader: DataLoader, shuffle_seed: int) -> DataLoader:
    """``loader`` with each rank drawing its share of the single-process permutation (:class:`SameShuffleSampler`,
    reseeded per epoch with ``shuffle_seed + epoch`` by :func:`dglnb.train.loaders.start_epoch`)."""
    sampler = SameShuffleSampler(loader.dataset, shuffle=True, seed=shuffle_seed, drop_last=False)
    return DataLoader(
        loader.dataset,
        batch_size=loader.batch_size,
        sampler=sampler,
        num_workers=loader.num_workers,
        generator=loader.generator,
        worker_init_fn=loader.worker_init_fn,
        drop_last=False,
    )


def average_gradients_before_steps(
    optimizer: torch.optim.Optimizer, local_batch: Callable[[], int]
) -> None:
    """Before every ``optimizer.step``, make each gradient the global-batch mean: ``local_batch()``
    gives this rank's current batch size (the loop's, set before each step). Parameters without a
    gradient on every rank keep none (the optimizer skips them, as one process would). Every tensor
    reduced lives on the parameters' device, the run's."""

    def hook(opt: torch.optim.Optimizer, args, kwargs) -> None:
        params = [p for group in opt.param_groups for p in group["params"]]
        device = params[0].device
        batch_size = local_batch()
        present = torch.tensor(
            [p.grad is not None for p in params] + [batch_size], dtype=torch.float64, device=device
        )
        dist.all_reduce(present)  # how many ranks hold each gradient; the global batch size
        params = [p for p, n in zip(params, present[:-1].tolist()) if n > 0]
        grads = [p.grad if p.grad is not None else torch.zeros_like(p) for p in params]
        flat = torch.cat([g.reshape(-1) for g in grads]) * (batch_size / present[-1].item())
        dist.all_reduce(flat)
        for p, g in zip(params, flat.split([p.numel() for p in params])):
            p.grad = g.view_as(p).to(p.dtype)

    optimizer.register_step_pre_hook(hook)


def mean_over_ranks(values: dict[str, float], device: torch.device) -> dict[str, float]:
    """Each value averaged over the ranks (the epoch's training losses), reduced on the run's
    ``device`` (NCCL, the CUDA backend, takes CUDA tensors only)."""
    if not dist.is_initialized():
        return values
    keys = list(values)
    tensor = torch.tensor([values[k] for k in keys], dtype=torch.float64, device=device)
    dist.all_reduce(tensor)
    return {k: float(v) / world_size() for k, v in zip(keys, tensor)}
