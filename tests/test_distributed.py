"""torchrun with two CPU processes (gloo) trains the model one process trains with the same global batch,
launched as the documentation says; every collective gets its tensors on the run's device."""

import ast
import csv
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import torch.distributed as dist

from dglnb.train import distributed

TORCHRUN = shutil.which("torchrun", path=str(Path(sys.executable).parent))
ARGS = [
    "train",
    "--dataset",
    "synthetic",
    "--profile",
    "smoke",
    "--epochs",
    "2",
    "--batch-size",
    "8",
    "--no-progress",
    "--device",
    "cpu",
]
# torch.distributed's operations that move tensors between ranks, each wrapped by collectives_on_the_run_device
COLLECTIVES = (
    "all_reduce",
    "all_reduce_coalesced",
    "broadcast",
    "reduce",
    "all_gather",
    "all_gather_into_tensor",
    "gather",
    "scatter",
    "reduce_scatter",
    "reduce_scatter_tensor",
    "all_to_all",
    "all_to_all_single",
    "send",
    "recv",
    "isend",
    "irecv",
)
GROUP_CALLS = (
    "is_initialized",
    "get_world_size",
    "get_rank",
    "init_process_group",
    "destroy_process_group",
)


def dglnb(out: Path, method: str, processes: int) -> None:
    """``python -m dglnb train ...``, or the documented ``torchrun --nproc_per_node N -m dglnb train ...``."""
    launcher = (
        [sys.executable] if processes == 1 else [TORCHRUN, "--nproc_per_node", str(processes)]
    )
    result = subprocess.run(
        [*launcher, "-m", "dglnb", *ARGS, "--method", method, "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=300,
        env={"OMP_NUM_THREADS": "1", "PATH": "/usr/bin:/bin"},
    )
    assert result.returncode == 0, result.stderr[-3000:]


@pytest.mark.skipif(TORCHRUN is None, reason="torchrun is not installed beside this python")
@pytest.mark.parametrize("method", ["dgl"])  # several backward passes, routed: the hard case
def test_two_processes_equal_one_with_the_same_global_batch(tmp_path, method):
    dglnb(tmp_path / "one", method, processes=1)
    dglnb(tmp_path / "two", method, processes=2)
    one, two = (
        torch.load(tmp_path / run / "last.pt", weights_only=False) for run in ("one", "two")
    )
    for name, value in one["model"].items():
        torch.testing.assert_close(two["model"][name], value, rtol=1e-5, atol=1e-6, msg=name)
    rows = {
        run: list(csv.DictReader(open(tmp_path / run / "history.csv"))) for run in ("one", "two")
    }
    assert [list(r) for r in rows["two"]] == [list(r) for r in rows["one"]] and len(
        rows["one"]
    ) == 2
    for a, b in zip(rows["one"], rows["two"]):  # the training losses averaged over the ranks
        assert {k: float(v) for k, v in b.items()} == pytest.approx(
            {k: float(v) for k, v in a.items()}, abs=1e-5
        )
    metrics = {
        run: json.loads((tmp_path / run / "metrics.json").read_text()) for run in ("one", "two")
    }
    assert metrics["two"]["test_score"] == pytest.approx(metrics["one"]["test_score"], abs=1e-6)
    assert sorted(p.name for p in (tmp_path / "two").iterdir()) == sorted(
        p.name for p in (tmp_path / "one").iterdir()
    )


def test_a_global_batch_that_does_not_divide_among_the_processes_is_refused(monkeypatch):
    from dglnb.errors import ConfigError
    from dglnb.train import distributed

    monkeypatch.setattr(distributed, "world_size", lambda: 2)
    with pytest.raises(ConfigError, match="must divide among 2 processes"):
        distributed.local_batch_size(7)


def tensors_in(args, kwargs) -> list[torch.Tensor]:
    flat = [*args, *kwargs.values()]
    flat += [t for a in list(flat) if isinstance(a, (list, tuple)) for t in a]
    return [t for t in flat if torch.is_tensor(t)]


@pytest.fixture
def process_group(tmp_path):
    """A one-process gloo group (collectives run for real, over one rank)."""
    store = f"file://{tmp_path / 'store'}"
    dist.init_process_group("gloo", init_method=store, rank=0, world_size=1)
    yield
    dist.destroy_process_group()


@pytest.fixture
def collectives_on_the_run_device(monkeypatch):
    """``check(run_device)``: from then on every collective asserts that each tensor it is given lives on
    ``run_device``, as NCCL (CUDA tensors only) does; returns the names of the collectives called."""

    def check(run_device: torch.device) -> list[str]:
        called = []

        def wrap(name, collective):
            def checked(*args, **kwargs):
                for tensor in tensors_in(args, kwargs):
                    assert tensor.device == run_device, (
                        f"{name} got a tensor on {tensor.device}; the run is on {run_device}"
                    )
                called.append(name)
                return collective(*args, **kwargs)

            return checked

        for name in COLLECTIVES:
            monkeypatch.setattr(dist, name, wrap(name, getattr(dist, name)))
        return called

    return check


def test_the_package_calls_no_collective_the_device_check_does_not_wrap():
    tree = ast.parse(Path(distributed.__file__).read_text())
    used = {
        node.attr
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute)
        and isinstance(node.value, ast.Name)
        and node.value.id == "dist"
    }
    assert used - set(GROUP_CALLS) <= set(COLLECTIVES) and "all_reduce" in used
    package = Path(distributed.__file__).parents[1]
    elsewhere = [
        str(f)
        for f in package.rglob("*.py")
        if f != Path(distributed.__file__) and "torch.distributed" in f.read_text()
    ]
    assert elsewhere == []  # the collectives live in train/distributed.py only


@pytest.mark.usefixtures("process_group")
def test_every_collective_gets_its_tensors_on_the_run_device(collectives_on_the_run_device):
    """The run is on the CPU; torch's default device is set elsewhere ("meta"), as a CUDA run's default
    device is the CPU: a tensor built without the run's device lands there and the check fails."""
    run_device = torch.device("cpu")
    called = collectives_on_the_run_device(run_device)
    model = torch.nn.Linear(3, 2).to(run_device)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    distributed.average_gradients_before_steps(optimizer, lambda: 4)
    model(torch.ones(4, 3, device=run_device)).sum().backward()
    with torch.device("meta"):
        means = distributed.mean_over_ranks({"loss": 0.5, "loss_audio": 1.5}, run_device)
        optimizer.step()  # the gradient average runs before the step
    assert means == {"loss": 0.5, "loss_audio": 1.5}  # the mean over one rank
    # the losses; the gradients' counts with the batch size; the gradients
    assert called == ["all_reduce"] * 3
