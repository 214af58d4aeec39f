"""The bottom layer of a run: its settings (:class:`~dglnb.config.train_config.TrainConfig`), what a
valid value of each is (:mod:`~dglnb.config.checks`), a run's settings as a file
(:mod:`~dglnb.config.files`) and the profiles that fill them."""

from .checks import CHOICES, DATA_PATHS, OPTIMIZERS, PROTOCOLS, SELECTIONS
from .files import read_settings
from .profiles import PROFILES, check_profile, settings, sized, training_settings
from .train_config import EXECUTION_FIELDS, TrainConfig, check_values

__all__ = [
    "CHOICES",
    "DATA_PATHS",
    "EXECUTION_FIELDS",
    "OPTIMIZERS",
    "PROFILES",
    "PROTOCOLS",
    "SELECTIONS",
    "TrainConfig",
    "check_profile",
    "check_values",
    "read_settings",
    "settings",
    "sized",
    "training_settings",
]
