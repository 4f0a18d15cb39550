"""Per-stage timing hooks for the runtime's tasks: `on_stage(name, seconds)` after each stage that ran.

Off (no callback) it costs one attribute lookup per stage. On a GPU, stages only enqueue work, so their
host times say little unless the device is synchronised at each stage's end: `synchronize=True` does
that (at the price of the overlap between stages, so leave it off when measuring end-to-end speed).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext

from ..option_checks import callback

#: on_stage(stage name, seconds it took): called in the thread that made the call.
OnStage = Callable[[str, float], None]
_OFF = nullcontext()


class StageTimed:
    """Public stage timing for a task object holding `_clock` (a `StageClock`) and `backend`: the `on_stage`
    and `sync_stages` attributes of `PoseEstimator` and `PersonDetector`, assignable after construction."""

    _clock: StageClock
    backend: object

    @property
    def on_stage(self) -> OnStage | None:
        """The stage-timing callback; assign a new one, or None to stop timing."""
        return self._clock.on_stage

    @on_stage.setter
    def on_stage(self, callback: OnStage | None) -> None:
        self._clock = StageClock(callback, self._clock.synchronize)

    @property
    def sync_stages(self) -> bool:
        """Whether timed stages wait for the GPU at their end (never on the CPU: nothing to wait for)."""
        return self._clock.synchronize is not None

    @sync_stages.setter
    def sync_stages(self, value: bool) -> None:
        self._clock = StageClock(self._clock.on_stage, device_synchronizer(self.backend.device) if value else None)


def device_synchronizer(device: str) -> Callable[[], None] | None:
    """A callable that waits for the GPU, or None on the CPU (nothing runs asynchronously there)."""
    if device != "cuda":
        return None
    from .devices import array_module_for

    return array_module_for(device).cuda.Device().synchronize


class StageClock:
    """`with clock("crop"): ...` reports the block's wall time to `on_stage` (when there is one).

    synchronize: a callable that waits for the device (None: nothing to wait for, on the CPU).
    """

    def __init__(self, on_stage: OnStage | None = None, synchronize: Callable[[], None] | None = None):
        self.on_stage = callback("on_stage", on_stage, "stage name, seconds")
        self.synchronize = synchronize

    def __call__(self, name: str):
        return _OFF if self.on_stage is None else self._timed(name)

    @contextmanager
    def _timed(self, name: str) -> Iterator[None]:
        start = time.perf_counter()
        yield
        if self.synchronize is not None:
            self.synchronize()
        self.on_stage(name, time.perf_counter() - start)
