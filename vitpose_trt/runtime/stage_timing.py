"""Per-stage timing hooks for the runtime's tasks: `on_stage(name, seconds)` after each stage that ran.

Off (no callback) it costs one attribute lookup per stage. On a GPU, stages only enqueue work, so their
host times say little unless the device is synchronised at each stage's end: `synchronize=True` does
that (at the price of the overlap between stages, so leave it off when measuring end-to-end speed).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext

#: on_stage(stage name, seconds it took): called in the thread that made the call.
OnStage = Callable[[str, float], None]
_OFF = nullcontext()


class StageClock:
    """`with clock("crop"): ...` reports the block's wall time to `on_stage` (when there is one).

    synchronize: a callable that waits for the device (None: nothing to wait for, on the CPU).
    """

    def __init__(self, on_stage: OnStage | None = None, synchronize: Callable[[], None] | None = None):
        if on_stage is not None and not callable(on_stage):
            from ..errors import ConfigError

            raise ConfigError(f"on_stage must be a callable taking (stage name, seconds), got {on_stage!r}")
        self.on_stage = on_stage
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
