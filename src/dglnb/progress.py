"""Progress that suits where the output goes: a tqdm bar on a terminal; in a file or a CI log (no
TTY), one line every few percent instead of a carriage-return flood (a bar of 3,000 clips redrawn
in a log file is one line of tens of kilobytes).

Every progress display of the package and of ``data_prep/`` comes from :func:`progress`::

    for clip in progress(clips, desc="cremad", unit="clip"):
        ...

A bar with ``leave=False`` (the steps of one epoch, gone once it ends) shows on a terminal only.
"""

from __future__ import annotations

import sys
import time
from datetime import timedelta
from typing import Any, Iterable, Iterator, TextIO

from tqdm import tqdm

EVERY = 5.0  #: percent of the work between two lines of a log
UNSIZED_SECONDS = 30.0  #: seconds between two lines of a log when the amount of work is unknown


def _is_terminal(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # no isatty, or a closed stream
        return False


class LogLines:
    """tqdm's little interface (iterate, ``update``, ``set_postfix``, ``close``) writing a line each
    time the work crosses another ``every`` percent, and one when it ends:
    ``desc: 35% 1050/3000 clip [0:00:42 elapsed, 0:01:18 left] loss=0.41``."""

    def __init__(
        self,
        iterable: Iterable[Any] | None,
        total: int | None,
        desc: str,
        unit: str,
        stream: TextIO,
        every: float = EVERY,
    ) -> None:
        self.iterable, self.desc, self.unit = iterable, desc, unit
        self.stream, self.every = stream, every
        self.total = total if total is not None else getattr(iterable, "__len__", lambda: None)()
        self.n, self.shown, self.postfix = 0, -1, ""
        self.started = self.last = time.monotonic()
        self.closed = False

    def __iter__(self) -> Iterator[Any]:
        for item in self.iterable or ():
            yield item
            self.update()
        self.close()

    def __enter__(self) -> LogLines:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def update(self, n: int = 1) -> None:
        self.n += n
        now = time.monotonic()
        if self.total:
            step = int(100 * self.n / self.total // self.every)
            if step > self.shown and self.n < self.total:
                self.shown = step
                self._line(now)
        elif now - self.last >= UNSIZED_SECONDS:
            self._line(now)

    def set_postfix(self, **values: Any) -> None:
        self.postfix = " " + ", ".join(f"{k}={v}" for k, v in values.items())

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self._line(time.monotonic())

    def _line(self, now: float) -> None:
        self.last = now
        elapsed = timedelta(seconds=round(now - self.started))
        if self.total:
            per_unit = (now - self.started) / max(self.n, 1)
            left = timedelta(seconds=round(per_unit * (self.total - self.n)))
            done = f"{100 * self.n // self.total:3d}% {self.n}/{self.total} {self.unit}"
            timing = f"[{elapsed} elapsed, {left} left]"
        else:
            done, timing = f"{self.n} {self.unit}", f"[{elapsed} elapsed]"
        print(f"{self.desc}: {done} {timing}{self.postfix}", file=self.stream, flush=True)


class Silent(LogLines):
    """No output at all (progress turned off, or a transient bar where there is no terminal)."""

    def _line(self, now: float) -> None:
        pass


def progress(
    iterable: Iterable[Any] | None = None,
    *,
    total: int | None = None,
    desc: str = "",
    unit: str = "it",
    leave: bool = True,
    enabled: bool = True,
    stream: TextIO | None = None,
) -> Any:
    """``iterable`` (or ``total`` units of work, counted with ``update``) shown as a tqdm bar when
    ``stream`` (default: standard error) is a terminal, else as :class:`LogLines`; nothing when
    not ``enabled``, nor for a bar that would not be left (``leave=False``) outside a terminal."""
    stream = stream or sys.stderr
    if not enabled or (not leave and not _is_terminal(stream)):
        return Silent(iterable, total, desc, unit, stream)
    if _is_terminal(stream):
        return tqdm(
            iterable,
            total=total,
            desc=desc,
            unit=unit,
            leave=leave,
            file=stream,
            dynamic_ncols=True,
        )
    return LogLines(iterable, total, desc, unit, stream)
