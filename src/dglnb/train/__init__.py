"""Training: the loop (``loop``), a run from its config (``run``), the run cache (``cache``), sweeps
(``sweep``), and what they stand on (loaders, checkpoints, determinism, gradient diagnostics, probe)."""

from .cache import summarize, train_seeds
from .run import check_settings, load_trained, read_metrics, resolve, train

__all__ = [
    "check_settings",
    "load_trained",
    "read_metrics",
    "resolve",
    "summarize",
    "train",
    "train_seeds",
]
