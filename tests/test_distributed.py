"""torchrun with two CPU processes (gloo) trains the model one process trains with the same global batch."""

import csv
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

TORCHRUN = shutil.which("torchrun", path=str(Path(sys.executable).parent))
ARGS = ["train", "--dataset", "synthetic", "--profile", "smoke", "--epochs", "2", "--batch-size", "8",
        "--no-progress", "--device", "cpu"]


def dglnb(out: Path, method: str, processes: int) -> None:
    launcher = [sys.executable, "-m"] if processes == 1 else \
        [TORCHRUN, "--standalone", "--nproc_per_node", str(processes), "-m"]
    result = subprocess.run([*launcher, "dglnb.cli", *ARGS, "--method", method, "--out", str(out)],
                            capture_output=True, text=True, env={"OMP_NUM_THREADS": "1", "PATH": "/usr/bin:/bin"},
                            timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]


@pytest.mark.skipif(TORCHRUN is None, reason="torchrun is not installed beside this python")
@pytest.mark.parametrize("method", ["dgl"])  # several backward passes, routed: the hard case
def test_two_processes_equal_one_with_the_same_global_batch(tmp_path, method):
    dglnb(tmp_path / "one", method, processes=1)
    dglnb(tmp_path / "two", method, processes=2)
    one, two = (torch.load(tmp_path / run / "last.pt", weights_only=False) for run in ("one", "two"))
    for name, value in one["model"].items():
        torch.testing.assert_close(two["model"][name], value, rtol=1e-5, atol=1e-6, msg=name)
    rows = {run: list(csv.DictReader(open(tmp_path / run / "history.csv"))) for run in ("one", "two")}
    assert [list(r) for r in rows["two"]] == [list(r) for r in rows["one"]] and len(rows["one"]) == 2
    for a, b in zip(rows["one"], rows["two"]):  # the training losses averaged over the ranks
        assert {k: float(v) for k, v in b.items()} == pytest.approx({k: float(v) for k, v in a.items()}, abs=1e-5)
    metrics = {run: json.loads((tmp_path / run / "metrics.json").read_text()) for run in ("one", "two")}
    assert metrics["two"]["test_score"] == pytest.approx(metrics["one"]["test_score"], abs=1e-6)
    assert sorted(p.name for p in (tmp_path / "two").iterdir()) == sorted(p.name for p in (tmp_path / "one").iterdir())


def test_a_global_batch_that_does_not_divide_among_the_processes_is_refused(monkeypatch):
    from dglnb.errors import ConfigError
    from dglnb.train import distributed

    monkeypatch.setattr(distributed, "world_size", lambda: 2)
    with pytest.raises(ConfigError, match="must divide among 2 processes"):
        distributed.local_batch_size(7)
