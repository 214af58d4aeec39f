"""Is this the environment the goldens were recorded with? The goldens (notebooks/goldens/) hold for
the exact versions of requirements/cpu.lock; ENVIRONMENT.json beside them records that lock's sha256
and the Python version. nbval runs this first, so that a different environment fails with one message
naming every difference, not with dozens of cell failures.

Usage:
    python tools/check_environment.py            # exit 1 with what differs and what to do
    python tools/check_environment.py --record   # make golden: check the installed versions, record the lock
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import sys
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LOCK = ROOT / "requirements" / "cpu.lock"
RECORD = ROOT / "notebooks" / "goldens" / "ENVIRONMENT.json"
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==(\S+)")
REBUILD = "rebuild the environment from the lock: rm -rf .venv && make .venv"
NEW_VERSIONS = (
    "to move to other versions on purpose, update the lock and regenerate the goldens (README)"
)


def shown(path: Path) -> str:
    """``path`` relative to the repository when it lies inside it."""
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


def canonical(name: str) -> str:
    """A distribution's name as PEP 503 compares it."""
    return re.sub(r"[-_.]+", "-", name).lower()


def pins(lock: Path) -> dict[str, str]:
    """``{name: version}`` of every ``name==version`` line of a pip-compile lock."""
    return {
        canonical(m.group(1)): m.group(2)
        for line in lock.read_text().splitlines()
        if (m := PIN.match(line))
    }


def digest(lock: Path) -> str:
    return hashlib.sha256(lock.read_bytes()).hexdigest()


def python_version() -> str:
    return f"{sys.version_info.major}.{sys.version_info.minor}"


def installed_differences(lock: Path) -> list[str]:
    """One line per pinned distribution whose installed version is another, or that is missing."""
    lines = []
    for name, version in sorted(pins(lock).items()):
        try:
            installed = metadata.version(name)
        except metadata.PackageNotFoundError:
            installed = None
        if installed != version:
            lines.append(f"{name} {installed or 'not installed'} here, {version} in the lock")
    return lines


def problems(lock: Path, record: Path) -> list[str]:
    """Everything that makes this environment other than the goldens': the Python version, a lock
    changed since the goldens were recorded, and installed versions other than the lock's."""
    if not record.is_file():
        return [
            f"{record} is missing: no goldens were recorded with a lock. What to do: make golden"
        ]
    recorded = json.loads(record.read_text())
    found = []
    if recorded["python"] != python_version():
        found.append(
            f"Python {python_version()} here, {recorded['python']} when the goldens were recorded. "
            f"What to do: use Python {recorded['python']}"
        )
    if recorded["lock_sha256"] != digest(lock):
        found.append(
            f"{shown(lock)} changed since the goldens were recorded (sha256 "
            f"{digest(lock)[:12]}..., recorded {recorded['lock_sha256'][:12]}...). What to do: "
            "make golden, and commit the goldens with the lock"
        )
    differences = installed_differences(lock)
    if differences:
        found.append(
            f"the installed versions differ from {shown(lock)}:\n  "
            + "\n  ".join(differences)
            + f"\nWhat to do: {REBUILD}; or, {NEW_VERSIONS}"
        )
    return found


def record_environment(lock: Path, record: Path) -> None:
    """Write ``record`` for ``lock``, after checking that the installed versions are the lock's."""
    differences = installed_differences(lock)
    if differences:
        raise SystemExit(
            "not recording goldens with versions other than the lock's:\n  "
            + "\n  ".join(differences)
            + f"\nWhat to do: {REBUILD}"
        )
    record.write_text(
        json.dumps(
            {"lock": str(shown(lock)), "lock_sha256": digest(lock), "python": python_version()},
            indent=2,
        )
        + "\n"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--record", action="store_true", help="record the lock the goldens are made with"
    )
    parser.add_argument("--lock", type=Path, default=LOCK)
    parser.add_argument(
        "--environment", type=Path, default=RECORD, help="the record (ENVIRONMENT.json)"
    )
    args = parser.parse_args(argv)
    if args.record:
        record_environment(args.lock.resolve(), args.environment)
        return 0
    found = problems(args.lock.resolve(), args.environment)
    if found:
        print(
            "This is not the environment the goldens were recorded with, so the notebooks' checks "
            "would fail for that reason alone:\n- " + "\n- ".join(found),
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
