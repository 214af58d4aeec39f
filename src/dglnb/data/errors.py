"""The one error the data code raises for bad input: it names every offending file and the fix."""

from __future__ import annotations

from typing import Iterable

from ..errors import UserError


class DataError(UserError, RuntimeError):
    """Bad or missing data; the message lists each offending file and says what to do."""


def problems_error(what: str, problems: Iterable[str], fix: str) -> DataError:
    """A DataError listing every one of ``problems`` (one line each) and the ``fix``."""
    problems = list(problems)
    shown = "\n".join(f"  - {p}" for p in problems)
    return DataError(f"{what} ({len(problems)} problem(s)):\n{shown}\nWhat to do: {fix}")
