"""Ctrl-C (SIGINT) and SIGTERM as a request to stop between frames, so a long run ends with its results saved.

`StopRequest` is a context manager: while it is active, the first SIGINT or SIGTERM only sets
`requested` (the loop finishes the frame at hand, checks the flag and stops); a second one raises
`KeyboardInterrupt` at once. `interrupt_on_sigterm` makes SIGTERM raise `KeyboardInterrupt` like
Ctrl-C (for loops whose unit of work is dropped rather than finished, e.g. a benchmark case). Both
restore the previous handlers on exit and do nothing outside the main thread (Python delivers signals
to the main thread only, and only it may set handlers). Standard library only.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager

#: Signals that ask a run to stop.
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def _in_main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()


class StopRequest:
    """Turns the first SIGINT/SIGTERM into `requested = True` (and `signal_name`), the second into
    `KeyboardInterrupt`; `notice` is written to stderr when the first arrives."""

    def __init__(self, notice: str = "stopping after the current frame (press Ctrl-C again to stop at once)"):
        self.notice = notice
        self.signal_name: str | None = None
        self._previous: dict[int, object] = {}

    @property
    def requested(self) -> bool:
        return self.signal_name is not None

    def __call__(self) -> bool:
        """`requested`, for loops that take a `stop()` callable."""
        return self.requested

    def _handle(self, signum: int, frame) -> None:
        if self.requested:
            raise KeyboardInterrupt
        self.signal_name = signal.Signals(signum).name
        # os.write, not print: a handler may run in the middle of another write to sys.stderr.
        try:
            os.write(sys.stderr.fileno(), f"\n{self.signal_name}: {self.notice}\n".encode())
        except (OSError, ValueError):  # stderr closed or replaced by an object without a file descriptor
            pass

    def __enter__(self) -> StopRequest:
        if _in_main_thread():
            for signum in STOP_SIGNALS:
                self._previous[signum] = signal.signal(signum, self._handle)
        return self

    def __exit__(self, *exc_info) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)
        self._previous.clear()


def _raise_interrupt(signum: int, frame) -> None:
    raise KeyboardInterrupt


@contextmanager
def interrupt_on_sigterm() -> Iterator[None]:
    """While active, SIGTERM raises `KeyboardInterrupt` as Ctrl-C does; the previous handler comes back after."""
    if not _in_main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, _raise_interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
