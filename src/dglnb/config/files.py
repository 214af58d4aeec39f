"""A run's settings as a YAML file (``dglnb train --config FILE.yaml``): TrainConfig field names to
values, the keys a sweep file's ``options`` use, with ``dataset``, ``method``, ``seed``, ``profile``
and ``method_options`` (the method's own options) given once::

    dataset: avdigits
    method: dgl
    profile: quick
    alpha: 2
    milestones: [12]
    lr: 1.0e-2
    method_options: {}

A value is read as its field's type where YAML reads it otherwise: a number written ``1e-3`` (a
string to YAML) as a float, a list as a tuple, a string as a path.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from pathlib import Path
from typing import Any

import yaml

from ..errors import ConfigError
from .train_config import TrainConfig


def field_types() -> dict[str, Any]:
    """Each TrainConfig field's type without ``| None``: ``{"alpha": float, "milestones": tuple[int, ...]}``."""

    def required(hint: Any) -> Any:
        if typing.get_origin(hint) in (typing.Union, types.UnionType):
            (hint,) = [a for a in typing.get_args(hint) if a is not type(None)]
        return hint

    return {name: required(hint) for name, hint in typing.get_type_hints(TrainConfig).items()}


def _typed(kind: Any, value: Any) -> Any:
    """``value`` as ``kind`` where YAML read it as another type; left as it is otherwise."""
    if kind is float and isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return value
    if typing.get_origin(kind) is tuple and isinstance(value, list):
        return tuple(value)
    if kind is Path and isinstance(value, str):
        return Path(value)
    return value


def read_settings(path: Path) -> dict[str, Any]:
    """The settings in the YAML file ``path``, by TrainConfig field name; a
    :class:`~dglnb.errors.ConfigError` for an unreadable file or an unknown key (listing the valid ones)."""
    try:
        spec = yaml.safe_load(Path(path).read_text())
    except (OSError, yaml.YAMLError) as error:
        raise ConfigError(f"cannot read the settings file {path}: {error}") from error
    if spec is None:
        return {}
    if not isinstance(spec, dict):
        raise ConfigError(
            f"the settings file {path} must map TrainConfig fields to values, e.g. 'method: dgl'"
        )
    names = [f.name for f in dataclasses.fields(TrainConfig)]
    unknown = sorted(set(spec) - set(names), key=str)
    if unknown:
        raise ConfigError(
            f"unknown settings in {path}: {', '.join(map(str, unknown))}; "
            f"valid settings: {', '.join(names)}"
        )
    kinds = field_types()
    return {name: _typed(kinds[name], value) for name, value in spec.items()}
