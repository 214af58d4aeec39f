"""Training methods by name; each module registers its class with ``@METHODS.register(name)``."""

from __future__ import annotations

from ..registry import Registry

METHODS: Registry[type] = Registry("method")

# Importing a method's module registers it.
from . import agm, dgl, dnr, gblending, mla, mmpareto, ogm, pmr, unimodal, vanilla, vanilla_lr  # noqa: E402,F401
