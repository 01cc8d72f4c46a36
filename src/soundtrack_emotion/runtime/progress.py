"""Progress of a long step, readable wherever the output goes: a tqdm bar on a terminal, and
plain lines when the output is a file or a pipe (``kedro run | tee run.log``, CI logs), where
a bar's carriage returns would pile up into one unreadable line.

Piped, a step prints one line each time it passes another tenth of its total
(``features: 120/652 tracks (18%), 0:41 elapsed``), and in between at most one line every
:data:`LINE_SECONDS` while it moves; a step of unknown total prints its count that often. A
transient bar (``leave=False``, e.g. one bar per trained model) prints nothing when piped:
the run's line per pipeline says it.
"""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import IO, Any, Self

from tqdm.auto import tqdm

# Piped output: a line at every this share of the total...
LINE_STEP = 0.10
# ... and, between those, at most one line per this many seconds while the count moves.
LINE_SECONDS = 30.0


def is_terminal(stream: IO[str] | None) -> bool:
    """Whether ``stream`` is an interactive terminal (a closed or odd stream is not)."""
    try:
        return bool(stream is not None and stream.isatty())
    except (AttributeError, ValueError):
        return False


def progress(
    iterable: Iterable[Any] | None = None,
    *,
    desc: str,
    total: int | None = None,
    unit: str = "item",
    leave: bool = True,
    enabled: bool = True,
    stream: IO[str] | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> Any:
    """A progress display over ``iterable`` (or updated by hand with ``update``): a tqdm bar
    when ``stream`` (default ``sys.stderr``) is a terminal, else a :class:`LineProgress`.
    Both iterate, ``update(n)``, ``set_postfix(**values)``, ``close()``, have a settable
    ``total`` and work as context managers. ``enabled=False``: shows nothing."""
    stream = sys.stderr if stream is None else stream
    if not is_terminal(stream):
        return LineProgress(
            iterable, desc=desc, total=total, unit=unit, stream=stream, clock=clock,
            silent=not enabled or not leave,
        )  # fmt: skip
    return tqdm(iterable, desc=desc, total=total, unit=unit, leave=leave, file=stream,
                disable=not enabled)  # fmt: skip


class LineProgress:
    """The piped form of :func:`progress`: one plain line per step, never a carriage return.

    >>> import io
    >>> out = io.StringIO()
    >>> for _ in progress(range(4), desc="features", unit="track", stream=out):
    ...     pass
    >>> print(out.getvalue(), end="")  # doctest: +ELLIPSIS
    features: 1/4 tracks (25%), 0:00 elapsed
    features: 2/4 tracks (50%), 0:00 elapsed
    features: 3/4 tracks (75%), 0:00 elapsed
    features: 4/4 tracks (100%), 0:00 elapsed
    """

    def __init__(
        self,
        iterable: Iterable[Any] | None = None,
        *,
        desc: str,
        total: int | None = None,
        unit: str = "item",
        stream: IO[str],
        clock: Callable[[], float] = time.monotonic,
        silent: bool = False,
    ) -> None:
        if total is None and iterable is not None and hasattr(iterable, "__len__"):
            total = len(iterable)  # type: ignore[arg-type]
        self.iterable, self.desc, self.total, self.unit = iterable, desc, total, unit
        self.n = 0
        self._stream, self._clock, self._silent = stream, clock, silent
        self._started = self._last_line = clock()
        self._shown_n, self._shown_step = 0, 0
        self._postfix = ""
        self._closed = False

    def __iter__(self) -> Iterator[Any]:
        if self.iterable is None:
            raise TypeError(f"progress {self.desc!r} was made without an iterable to go over")
        try:
            for item in self.iterable:
                yield item
                self.update()
        finally:
            self.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def update(self, n: int = 1) -> None:
        """Count ``n`` more items done; print a line if a step or ``LINE_SECONDS`` passed."""
        self.n += n
        now = self._clock()
        step = self._step()
        if step > self._shown_step or now - self._last_line >= LINE_SECONDS:
            self._line(now)

    def set_postfix(
        self, ordered_dict: Mapping[str, Any] | None = None, refresh: bool = True, **values: Any
    ) -> None:
        """Values shown after the count on the next line (``val_loss=0.0123``), as tqdm's."""
        values = {**(ordered_dict or {}), **values}
        self._postfix = ", ".join(f"{key}={value}" for key, value in values.items())

    def refresh(self) -> None:
        """Nothing to redraw: lines are printed as the count moves."""

    def close(self) -> None:
        """Print the last count if no line showed it yet; later calls do nothing."""
        if self._closed:
            return
        self._closed = True
        if self.n != self._shown_n:
            self._line(self._clock())

    def _step(self) -> int:
        if not self.total:
            return 0
        return math.floor(min(self.n / self.total, 1.0) / LINE_STEP + 1e-9)

    def _line(self, now: float) -> None:
        self._last_line, self._shown_n, self._shown_step = now, self.n, self._step()
        if self._silent:
            return
        units = self.unit if self.n == 1 and not self.total else f"{self.unit}s"
        count = f"{self.n}/{self.total} {units} ({100 * self.n / self.total:.0f}%)" if (
            self.total) else f"{self.n} {units}"  # fmt: skip
        elapsed = int(now - self._started)
        text = f"{self.desc}: {count}, {elapsed // 60}:{elapsed % 60:02d} elapsed"
        if self._postfix:
            text += f", {self._postfix}"
        self._stream.write(text + "\n")
        self._stream.flush()
