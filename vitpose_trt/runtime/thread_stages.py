"""Pre/post-processing stages per thread: a task's stage (with its reused buffers) for each calling thread.

A thread-safe backend runs calls from several threads at once, so each thread gets its own stage, made on
its first call; with a backend whose calls take turns, one stage serves all of them.
"""

from __future__ import annotations

import threading
from collections.abc import Callable


class StagePerThread:
    """`stages.get()` -> the calling thread's stage (`make()` on first use), or the one shared stage."""

    def __init__(self, make: Callable[[], object], shared: bool):
        self._make = make
        self._local = threading.local()
        self._local.stage = make()  # made now: a bad setting fails at construction, not on the first call
        self._shared = self._local.stage if shared else None

    def get(self):
        stage = self._shared or getattr(self._local, "stage", None)
        if stage is None:
            stage = self._local.stage = self._make()
        return stage
