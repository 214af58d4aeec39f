"""Name -> object registries, so a method, dataset or fusion is added by one file plus one line."""

from __future__ import annotations

from typing import Callable, Generic, TypeVar

from .errors import UserError

T = TypeVar("T")


class UnknownNameError(UserError, KeyError, ValueError):
    """An unknown name was asked of a registry; the message lists the valid ones."""

    def __str__(self) -> str:  # KeyError would otherwise quote the message
        return str(self.args[0])


class Registry(Generic[T]):
    """A named table of builders, e.g. ``METHODS.get("dgl")``."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._items: dict[str, T] = {}

    def register(self, name: str) -> Callable[[T], T]:
        def add(obj: T) -> T:
            if name in self._items:
                raise ValueError(f"{self.kind} {name!r} is registered twice")
            self._items[name] = obj
            return obj

        return add

    def get(self, name: str) -> T:
        try:
            return self._items[name]
        except KeyError:
            raise UnknownNameError(
                f"unknown {self.kind} {name!r}; valid {self.kind}s: {', '.join(self.names())}"
            ) from None

    def names(self) -> list[str]:
        return sorted(self._items)

    def __contains__(self, name: object) -> bool:
        return name in self._items
