"""Timed loops: warm-up calls excluded, each timed call measured by a host or a CUDA-event clock."""

from __future__ import annotations

import time
from collections.abc import Callable

from ..dependencies import import_optional
from ..errors import ConfigError


class HostClock:
    """Wall time by `perf_counter`, for calls that have finished when they return (CPU backends)."""

    name = "perf_counter"

    def start(self) -> None:
        self._t0 = time.perf_counter()

    def stop(self) -> float:
        """Seconds since `start`."""
        return time.perf_counter() - self._t0


class CudaEventClock:
    """GPU time between two CUDA events (CuPy, current stream), for calls that return before the GPU is done.

    `stop` synchronises the whole device before recording the end event, so work a backend enqueued on
    its own (possibly non-blocking) stream is inside the interval; each sample is the call's device
    time plus host overhead, never the previous call's tail.
    """

    name = "cuda-events"

    def __init__(self):
        self._cupy = import_optional("cupy", "CUDA event timing")

    def start(self) -> None:
        self._start, self._end = self._cupy.cuda.Event(), self._cupy.cuda.Event()
        self._start.record()

    def stop(self) -> float:
        self._cupy.cuda.Device().synchronize()
        self._end.record()
        self._end.synchronize()
        return self._cupy.cuda.get_elapsed_time(self._start, self._end) / 1000.0


def timed_calls(call: Callable[[], object], warmup: int, iters: int, clock=None,
                on_step: Callable[[], None] | None = None) -> list[float]:
    """Run `call` `warmup` times untimed, then `iters` times timed; return the timed durations (s).

    `clock` defaults to `HostClock`; `on_step` is called after every call (progress bars).
    """
    if warmup < 0 or iters < 1:
        raise ConfigError(f"need warmup >= 0 and iters >= 1, got warmup={warmup}, iters={iters}")
    clock = clock or HostClock()
    for _ in range(warmup):
        call()
        if on_step:
            on_step()
    durations = []
    for _ in range(iters):
        clock.start()
        call()
        durations.append(clock.stop())
        if on_step:
            on_step()
    return durations
