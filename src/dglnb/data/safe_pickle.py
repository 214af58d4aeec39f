"""Pickles from elsewhere, read without running their code: NumPy arrays and plain containers only.

Unpickling calls whatever the file names (``os.system`` as easily as ``numpy.ndarray``), so a third-party
pickle (MOSI's feature files) is read by :class:`PlainUnpickler`, which builds only the classes a
feature file needs and refuses any other, naming it, before anything is called.
"""

from __future__ import annotations

import pickle
from typing import IO, Any

#: (module, name) a NumPy feature pickle refers to: arrays (protocols 2-5, NumPy 1 and 2 module names),
#: their dtypes and scalars, Python 2-compatible bytes (protocol 2), sets; dicts, lists, tuples, str,
#: bytes and numbers need no class.
ALLOWED = frozenset(
    [
        (f"numpy.{core}.multiarray", name)
        for core in ("core", "_core")
        for name in ("_reconstruct", "scalar")
    ]
    + [(f"numpy.{core}.numeric", "_frombuffer") for core in ("core", "_core")]
    + [("numpy", "ndarray"), ("numpy", "dtype"), ("_codecs", "encode")]
    + [
        (builtins, name)
        for builtins in ("builtins", "__builtin__")
        for name in ("set", "frozenset", "bytearray")
    ]
)


class RefusedClass(pickle.UnpicklingError):
    """A pickle named a class or function outside :data:`ALLOWED`."""

    def __init__(self, module: str, name: str) -> None:
        super().__init__(f"{module}.{name}")
        self.qualified_name = f"{module}.{name}"


class PlainUnpickler(pickle.Unpickler):
    """An unpickler that builds NumPy arrays and plain containers and raises :class:`RefusedClass` for
    any other class or function the pickle names, without importing or calling it."""

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in ALLOWED:
            raise RefusedClass(module, name)
        return super().find_class(module, name)


def load_plain(handle: IO[bytes]) -> Any:
    """The object pickled in ``handle``, if it is made of NumPy arrays and plain containers only;
    :class:`RefusedClass` names the first class it is not."""
    return PlainUnpickler(handle).load()
