"""The bottom layer of a run: its settings (:class:`~dglnb.config.train_config.TrainConfig`) and the
profiles that fill them."""

from .profiles import PROFILES, check_profile, settings, sized, training_settings
from .train_config import DATA_PATHS, EXECUTION_FIELDS, OPTIMIZERS, PROTOCOLS, SELECTIONS, TrainConfig, check_values

__all__ = ["DATA_PATHS", "EXECUTION_FIELDS", "OPTIMIZERS", "PROFILES", "PROTOCOLS", "SELECTIONS", "TrainConfig", "check_profile",
           "check_values", "settings", "sized", "training_settings"]
