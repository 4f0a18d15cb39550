"""Stages of a video pipeline in their own threads, joined by bounded queues.

`prefetched(items, depth)` runs an iterator ahead in a background thread (decoding frames, detecting in
them) and hands its items over in order, at most `depth` ahead; `ThreadedSink` runs a consumer (drawing and
encoding the rendered video) in a background thread. Both pass exceptions on to the caller, in order, and
stop their thread when the caller stops early (a `break`, Ctrl-C, an error): no thread outlives its stage.
Numpy, OpenCV and the inference libraries release the GIL in their heavy calls, so the stages overlap.
Standard library only.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import Generic, TypeVar

T = TypeVar("T")

#: How often (s) a blocked producer or consumer looks whether the other side has gone.
POLL_S = 0.05
#: Seconds to wait for a stage's thread to finish once told to stop.
JOIN_S = 10.0
_END = object()


class _Raised:
    """An exception raised in the producer, carried through the queue to be raised in the consumer."""

    def __init__(self, error: BaseException):
        self.error = error


def _put(items: queue.Queue, item, stop: threading.Event) -> bool:
    """Put `item`, waiting while the queue is full; False (not put) once `stop` is set."""
    while not stop.is_set():
        try:
            items.put(item, timeout=POLL_S)
            return True
        except queue.Full:
            continue
    return False


def prefetched(items: Iterable[T], depth: int, name: str = "prefetch") -> Iterator[T]:
    """The items of `items`, produced by a background thread at most `depth` ahead of the caller.

    An exception of the producer is raised here after the items produced before it. Closing the returned
    generator (or leaving a loop over it) stops the producer at its next item and joins its thread.
    """
    if depth < 1:
        raise ValueError(f"depth must be at least 1, got {depth}")
    buffer: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def produce() -> None:
        try:
            for item in items:
                if not _put(buffer, item, stop):
                    return
        except BaseException as error:  # noqa: BLE001 - handed to the consumer, which raises it
            _put(buffer, _Raised(error), stop)
            return
        finally:
            close = getattr(items, "close", None)
            if close is not None and stop.is_set():
                close()
        _put(buffer, _END, stop)

    thread = threading.Thread(target=produce, name=name, daemon=True)
    thread.start()
    return _consumed(buffer, stop, thread)


def _consumed(buffer: queue.Queue, stop: threading.Event, thread: threading.Thread) -> Iterator:
    try:
        while True:
            item = buffer.get()
            if item is _END:
                return
            if isinstance(item, _Raised):
                raise item.error
            yield item
    finally:
        stop.set()
        thread.join(JOIN_S)


class ThreadedSink(Generic[T]):
    """`consume(item)` for every `put(item)`, in order, in a background thread with at most `depth` items
    waiting; use as a context manager. An exception of `consume` is raised by the next `put` or by `close`;
    the items after it are dropped. `close()` (the end of the `with` block) waits for every item put."""

    def __init__(self, consume: Callable[[T], None], depth: int, name: str = "sink"):
        if depth < 1:
            raise ValueError(f"depth must be at least 1, got {depth}")
        self._consume = consume
        self._items: queue.Queue = queue.Queue(maxsize=depth)
        self._stop = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while True:
            item = self._items.get()
            if item is _END:
                return
            if self._error is not None:
                continue
            try:
                self._consume(item)
            except BaseException as error:  # noqa: BLE001 - raised in the caller's thread
                self._error = error
                self._stop.set()

    def put(self, item: T) -> None:
        """Queue `item`, waiting while `depth` items wait already; raise the consumer's error if it failed."""
        self._raise_error()
        if not _put(self._items, item, self._stop):
            self._raise_error()

    def close(self) -> None:
        """Wait until every item put is consumed and the thread ends; raise the consumer's error if any."""
        if self._thread.is_alive():
            self._items.put(_END)
            self._thread.join()
        self._raise_error()

    def _raise_error(self) -> None:
        if self._error is not None:
            error, self._error = self._error, None
            raise error

    def __enter__(self) -> ThreadedSink[T]:
        return self

    def __exit__(self, kind, error, trace) -> None:
        if kind is None:
            self.close()
            return
        try:  # already failing: finish what was queued (a stopped run still writes its frames), keep that error
            self.close()
        except Exception:  # noqa: BLE001 - the error in flight is the one to report
            pass
