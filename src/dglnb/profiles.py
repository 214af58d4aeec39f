"""Run profiles: ``smoke`` (seconds, unit tests), ``quick`` (CPU, embedded data, the committed
notebooks) and ``full`` (GPU, real datasets, the paper's hyperparameters).

Each experiment looks its settings up here, so a notebook's only knob is the profile name.
"""

from __future__ import annotations

from typing import Any

from .registry import UnknownNameError

PROFILES: dict[str, str] = {
    "smoke": "seconds on a CPU, for unit tests",
    "quick": "minutes on a 2-core CPU with embedded data; the committed notebooks and CI",
    "full": "a GPU, the real datasets and the paper's hyperparameters",
}

# experiment -> profile -> settings
SETTINGS: dict[str, dict[str, dict[str, Any]]] = {
    # notebook 01: eq. 3-8 on random and trained concat models
    "gradient_suppression": {
        "smoke": dict(n_random=200, n_classes=6, dims=(8, 8), train_epochs=3, n_train=256, seeds=(0,)),
        "quick": dict(n_random=5000, n_classes=10, dims=(32, 32), train_epochs=40, n_train=1000, seeds=(0, 1, 2)),
        "full": dict(n_random=20000, n_classes=10, dims=(64, 64), train_epochs=100, n_train=4000, seeds=(0, 1, 2, 3, 4)),
    },
}


def check_profile(name: str) -> str:
    """Return ``name`` if it is a profile, else raise an error listing the valid ones."""
    if name not in PROFILES:
        raise UnknownNameError(f"unknown profile {name!r}; valid profiles: {', '.join(PROFILES)}")
    return name


def settings(experiment: str, profile: str) -> dict[str, Any]:
    """The settings of ``experiment`` under ``profile`` (a copy: callers may change it)."""
    check_profile(profile)
    if experiment not in SETTINGS:
        raise UnknownNameError(
            f"unknown experiment {experiment!r}; valid experiments: {', '.join(sorted(SETTINGS))}"
        )
    return dict(SETTINGS[experiment][profile])
