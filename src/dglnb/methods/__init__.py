"""Training methods by name; each module registers its class with ``@METHODS.register(name)``."""

from __future__ import annotations

from ..registry import Registry

METHODS: Registry[type] = Registry("method")
