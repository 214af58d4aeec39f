"""The locked environment: requirements/cpu.lock pins pyproject's dependencies with hashes, the goldens
record the lock they hold for, and nbval stops first, with one message, in any other environment
(tools/check_environment.py)."""

import hashlib
import importlib.util
import json
import re
import subprocess
import sys
import tomllib
from importlib import metadata
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LOCK = ROOT / "requirements" / "cpu.lock"


def load_tool():
    spec = importlib.util.spec_from_file_location(
        "check_environment", ROOT / "tools" / "check_environment.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


tool = load_tool()


def check(lock: Path, record: Path, *flags: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [
            sys.executable,
            str(ROOT / "tools" / "check_environment.py"),
            "--lock",
            str(lock),
            "--environment",
            str(record),
            *flags,
        ],
        capture_output=True,
        text=True,
    )


def write_lock(path: Path, pins: dict[str, str]) -> Path:
    path.write_text(
        "".join(
            f"{name}=={version} \\\n    --hash=sha256:{'0' * 64}\n"
            for name, version in pins.items()
        )
    )
    return path


def test_the_goldens_record_the_committed_lock():
    recorded = json.loads((ROOT / "notebooks" / "goldens" / "ENVIRONMENT.json").read_text())
    assert recorded["lock"] == "requirements/cpu.lock"
    assert recorded["lock_sha256"] == hashlib.sha256(LOCK.read_bytes()).hexdigest()


def test_the_lock_pins_every_dependency_with_its_hashes_and_torch_to_its_cpu_wheel():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = [
        *project["dependencies"],
        *project["optional-dependencies"]["book"],
        *project["optional-dependencies"]["test"],
    ]
    pins = tool.pins(LOCK)
    assert [r for r in wanted if tool.canonical(re.split(r"[<>=!~ ;\[]", r)[0]) not in pins] == []
    assert pins["torch"] == "2.13.0+cpu"
    lines = LOCK.read_text().splitlines()
    unhashed = [
        line
        for line, following in zip(lines, lines[1:] + [""])
        if tool.PIN.match(line) and not following.strip().startswith("--hash=sha256:")
    ]
    assert unhashed == [] and len(pins) > 100


def test_the_gpu_constraints_are_the_lock_without_torch():
    constraints = ROOT / "requirements" / "gpu-constraints.txt"
    assert "--hash" not in constraints.read_text()
    assert tool.pins(constraints) == {k: v for k, v in tool.pins(LOCK).items() if k != "torch"}


def test_the_environment_of_the_goldens_passes(tmp_path):
    lock = write_lock(
        tmp_path / "cpu.lock",
        {"numpy": metadata.version("numpy"), "torch": metadata.version("torch")},
    )
    record = tmp_path / "ENVIRONMENT.json"
    assert check(lock, record, "--record").returncode == 0
    assert (
        json.loads(record.read_text())["lock_sha256"]
        == hashlib.sha256(lock.read_bytes()).hexdigest()
    )
    done = check(lock, record)
    assert done.returncode == 0 and done.stderr == ""


def test_other_installed_versions_fail_with_one_message_naming_each(tmp_path):
    lock = write_lock(
        tmp_path / "cpu.lock",
        {"numpy": "0.0.1", "torch": metadata.version("torch"), "Not_A.Package": "1.0"},
    )
    record = tmp_path / "ENVIRONMENT.json"
    record.write_text(
        json.dumps(
            {"lock": str(lock), "lock_sha256": tool.digest(lock), "python": tool.python_version()}
        )
    )
    done = check(lock, record)
    assert done.returncode == 1
    assert done.stderr.startswith("This is not the environment the goldens were recorded with")
    assert f"numpy {metadata.version('numpy')} here, 0.0.1 in the lock" in done.stderr
    assert (
        "not-a-package not installed here, 1.0 in the lock" in done.stderr
        and "torch" not in done.stderr
    )
    assert "rm -rf .venv && make .venv" in done.stderr and "regenerate the goldens" in done.stderr


def test_a_lock_changed_since_the_goldens_were_recorded_fails_saying_make_golden(tmp_path):
    lock = write_lock(tmp_path / "cpu.lock", {"numpy": metadata.version("numpy")})
    record = tmp_path / "ENVIRONMENT.json"
    check(lock, record, "--record")
    lock.write_text(lock.read_text() + "# edited\n")
    done = check(lock, record)
    assert done.returncode == 1 and "changed since the goldens were recorded" in done.stderr
    assert "What to do: make golden" in done.stderr


def test_another_python_or_no_record_fails(tmp_path):
    lock = write_lock(tmp_path / "cpu.lock", {"numpy": metadata.version("numpy")})
    record = tmp_path / "ENVIRONMENT.json"
    assert "is missing: no goldens were recorded with a lock" in check(lock, record).stderr
    record.write_text(
        json.dumps({"lock": str(lock), "lock_sha256": tool.digest(lock), "python": "2.7"})
    )
    assert (
        f"Python {tool.python_version()} here, 2.7 when the goldens were recorded"
        in check(lock, record).stderr
    )


def test_goldens_are_not_recorded_with_versions_other_than_the_locks(tmp_path):
    lock = write_lock(tmp_path / "cpu.lock", {"numpy": "0.0.1"})
    record = tmp_path / "ENVIRONMENT.json"
    done = check(lock, record, "--record")
    assert (
        done.returncode == 1
        and "not recording goldens with versions other than the lock's" in done.stderr
    )
    assert not record.exists()


@pytest.mark.parametrize("target", ["nbval", "nbval-portable"])
def test_nbval_checks_the_environment_before_any_notebook(target):
    commands = subprocess.run(
        ["make", "-n", "-o", ".venv", target], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    first = [
        line for line in commands.splitlines() if "pytest" in line or "check_environment" in line
    ][0]
    assert first == ".venv/bin/python tools/check_environment.py"
