"""dglnb.dgl_loss in a loop of the user's own, on a model defined here with no dglnb class: three
epochs of training, torch.compile, bf16 autocast and DistributedDataParallel on the CPU."""

from __future__ import annotations

import copy
import datetime
import os
import socket
import time

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
import torch.nn.functional as F
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from dglnb import dgl_loss

ALPHA = 3.0


class TwoEncoders(nn.Module):
    """A user's model: an MLP per modality and a gated fusion with batch norm; ``forward`` gives the
    features, ``fusion`` maps them to logits."""

    def __init__(self, dims=(6, 5), hidden: int = 16, classes: int = 4, norm: bool = True) -> None:
        super().__init__()
        self.audio = nn.Sequential(nn.Linear(dims[0], hidden), nn.ReLU(), nn.Linear(hidden, hidden))
        self.visual = nn.Sequential(
            nn.Linear(dims[1], hidden), nn.ReLU(), nn.Linear(hidden, hidden)
        )
        self.fusion = GatedFusion(hidden, classes, norm)

    def forward(self, audio, visual):
        return {"audio": self.audio(audio), "visual": self.visual(visual)}


class GatedFusion(nn.Module):
    def __init__(self, hidden: int, classes: int, norm: bool = True) -> None:
        super().__init__()
        self.gate = nn.Linear(hidden, hidden)
        self.norm = nn.BatchNorm1d(hidden) if norm else nn.Identity()
        self.head = nn.Linear(2 * hidden, classes)

    def forward(self, feats):
        gated = torch.sigmoid(self.gate(feats["visual"])) * feats["audio"]
        return self.head(torch.cat([self.norm(gated), feats["visual"]], dim=1))


def toy_data(n: int = 96, seed: int = 0):
    """Four classes; audio tells them apart strongly, visual weakly."""
    g = torch.Generator().manual_seed(seed)
    y = torch.randint(4, (n,), generator=g)
    audio = torch.randn(n, 6, generator=g) + 2.0 * F.one_hot(y, 6).float()
    visual = torch.randn(n, 5, generator=g) + 0.7 * F.one_hot(y, 5).float()
    return audio, visual, y


def groups(model: TwoEncoders) -> dict[str, list[nn.Parameter]]:
    return {
        "audio": list(model.audio.parameters()),
        "visual": list(model.visual.parameters()),
        "fusion": list(model.fusion.parameters()),
    }


def test_a_users_model_trains_three_epochs_and_its_encoders_learn_from_their_unimodal_losses_only():
    torch.manual_seed(0)
    model = TwoEncoders()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    audio, visual, y = toy_data()
    params = groups(model)
    epochs = []
    for _ in range(3):
        logs = []
        for batch in torch.randperm(len(y)).split(16):
            feats = model(audio[batch], visual[batch])
            result = dgl_loss(feats, model.fusion, y[batch], alpha=ALPHA)
            for m in ("audio", "visual"):
                from_multi = torch.autograd.grad(
                    result.multimodal, params[m], retain_graph=True, allow_unused=True
                )
                assert all(g is None or not g.any() for g in from_multi), f"L^d reached {m}"
                own = torch.autograd.grad(result.unimodal[m], params[m], retain_graph=True)
                assert sum(g.abs().sum() for g in own) > 0, f"L^{m} left its encoder without grad"
            optimizer.zero_grad()
            result.backward()
            optimizer.step()
            logs.append(result.logs())
        epochs.append({k: sum(log[k] for log in logs) / len(logs) for k in logs[0]})
    model.eval()
    with torch.no_grad():
        accuracy = (model.fusion(model(audio, visual)).argmax(1) == y).float().mean()
    for key in ("loss_multi", "loss_audio", "loss_visual"):
        assert epochs[2][key] < epochs[0][key], key
    assert accuracy > 0.5  # four classes


def test_the_drop_in_loss_trains_under_torch_compile_as_in_eager_mode():
    """The whole loss compiled (the input checks run eagerly, at graph breaks): three SGD steps land
    where the eager ones do."""
    torch.manual_seed(0)
    eager = TwoEncoders()
    compiled = copy.deepcopy(eager)

    @torch.compile
    def compiled_loss(audio, visual, y):
        return dgl_loss(compiled(audio, visual), compiled.fusion, y, alpha=ALPHA).loss

    def eager_loss(audio, visual, y):
        return dgl_loss(eager(audio, visual), eager.fusion, y, alpha=ALPHA).loss

    audio, visual, y = toy_data(32)
    for model, loss_of in ((eager, eager_loss), (compiled, compiled_loss)):
        optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
        for _ in range(3):
            optimizer.zero_grad()
            loss_of(audio, visual, y).backward()
            optimizer.step()
    for p, q in zip(eager.parameters(), compiled.parameters(), strict=True):
        torch.testing.assert_close(q, p, rtol=1e-4, atol=1e-5)
    for b, c in zip(eager.buffers(), compiled.buffers(), strict=True):
        torch.testing.assert_close(c, b, rtol=1e-4, atol=1e-5)


def test_the_drop_in_loss_routes_and_trains_under_bf16_autocast():
    torch.manual_seed(0)
    model = TwoEncoders()
    reference = copy.deepcopy(model)
    audio, visual, y = toy_data(32)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        result = dgl_loss(model(audio, visual), model.fusion, y, alpha=ALPHA)
        feats = reference(audio, visual)
        detached = {m: z.detach() for m, z in feats.items()}
        fusion_grads = torch.autograd.grad(
            F.cross_entropy(reference.fusion(detached), y), list(reference.fusion.parameters())
        )
    result.backward()
    for p, g in zip(model.fusion.parameters(), fusion_grads, strict=True):
        torch.testing.assert_close(p.grad, g)
    assert result.loss.dtype == torch.float32
    assert all(p.grad.isfinite().all() for p in model.parameters())
    optimizer = torch.optim.SGD(model.parameters(), lr=0.2)
    losses = []
    for _ in range(10):
        optimizer.zero_grad()
        with torch.autocast("cpu", dtype=torch.bfloat16):
            result = dgl_loss(model(audio, visual), model.fusion, y, alpha=ALPHA)
        result.backward()
        optimizer.step()
        losses.append(result.logs()["loss_multi"])
    assert losses[-1] < losses[0]


def ddp_worker(rank: int, world: int, port: int, out: str) -> None:
    """One rank of DistributedDataParallel: its half of a batch through dgl_loss; rank 0 saves the
    gradients."""
    os.environ["GLOO_SOCKET_IFNAME"] = "lo"
    dist.init_process_group(
        "gloo",
        init_method=f"tcp://127.0.0.1:{port}",
        rank=rank,
        world_size=world,
        timeout=datetime.timedelta(seconds=60),
    )
    torch.manual_seed(0)
    model = DistributedDataParallel(TwoEncoders(hidden=8, norm=False))
    audio, visual, y = toy_data(16)
    shard = slice(rank * 8, (rank + 1) * 8)
    feats = model(audio[shard], visual[shard])
    dgl_loss(feats, model.module.fusion, y[shard], alpha=ALPHA).backward()
    grads = [p.grad for p in model.module.parameters()]
    del model, feats  # DDP's reducer before its process group: the other order can hang at exit
    if rank == 0:
        torch.save(grads, out)
    dist.destroy_process_group()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_the_drop_in_loss_under_ddp_averages_the_gradients_one_process_computes(tmp_path):
    """Two gloo ranks, each on half the batch, give every parameter the full batch's DGL gradient
    (without the fusion's batch norm, whose statistics DDP keeps per rank)."""
    ranks = mp.spawn(
        ddp_worker, args=(2, free_port(), str(tmp_path / "grads.pt")), nprocs=2, join=False
    )
    deadline = time.monotonic() + 240
    while not ranks.join(timeout=5):
        if time.monotonic() > deadline:
            for process in ranks.processes:
                process.kill()
            pytest.fail("the two DDP ranks did not finish within 240 s")
    torch.manual_seed(0)
    model = TwoEncoders(hidden=8, norm=False)
    audio, visual, y = toy_data(16)
    dgl_loss(model(audio, visual), model.fusion, y, alpha=ALPHA).backward()
    for p, g in zip(model.parameters(), torch.load(tmp_path / "grads.pt"), strict=True):
        torch.testing.assert_close(g, p.grad, rtol=1e-5, atol=1e-6)
