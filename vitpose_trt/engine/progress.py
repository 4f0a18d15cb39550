"""Build progress bars fed by TensorRT's IProgressMonitor, and build cancellation.

TensorRT reports nested phases ("Building engine" > "Building engine from subgraph" > ...), each
with a step count, possibly from several of its threads. Each open phase gets a tqdm bar indented by
its depth. `cancel()` makes the next `step_complete` return False, which TensorRT answers by
stopping the build (build_serialized_network then returns None).
"""

from __future__ import annotations

import sys
import threading
from types import ModuleType

#: Deepest phase nesting that still gets its own bar (deeper phases are counted but not drawn).
MAX_BARS = 2


def progress_monitor(trt: ModuleType, show: bool = True):
    """Return an IProgressMonitor of library `trt`; `show=False` keeps cancellation but draws nothing."""
    tqdm = None
    if show:
        from tqdm.auto import (
            tqdm,  # tqdm is a core dependency; imported here to keep imports light
        )

    class BuildProgress(trt.IProgressMonitor):
        def __init__(self) -> None:
            trt.IProgressMonitor.__init__(self)
            self._lock = threading.Lock()
            self._cancelled = threading.Event()
            self._bars: dict[str, object] = {}
            self._depth: dict[str, int] = {}
            self.steps_completed = 0

        @property
        def cancelled(self) -> bool:
            return self._cancelled.is_set()

        def cancel(self) -> None:
            """Ask TensorRT to stop at its next step (thread-safe, idempotent)."""
            self._cancelled.set()

        def phase_start(self, phase_name, parent_phase, num_steps) -> None:
            with self._lock:
                depth = self._depth.get(parent_phase, -1) + 1 if parent_phase else 0
                self._depth[phase_name] = depth
                if tqdm is not None and depth < MAX_BARS:
                    self._bars[phase_name] = tqdm(
                        total=num_steps, desc=f"{'  ' * depth}{phase_name}", position=depth,
                        leave=depth == 0, file=sys.stderr, unit="step", dynamic_ncols=True,
                    )

        def step_complete(self, phase_name, step) -> bool:
            with self._lock:
                self.steps_completed += 1
                bar = self._bars.get(phase_name)
                if bar is not None:
                    bar.update(step + 1 - bar.n)
            return not self._cancelled.is_set()

        def phase_finish(self, phase_name) -> None:
            with self._lock:
                self._depth.pop(phase_name, None)
                bar = self._bars.pop(phase_name, None)
                if bar is not None:
                    if not self._cancelled.is_set():
                        bar.update(bar.total - bar.n)  # TensorRT may skip the last steps' reports
                    bar.close()

        def close(self) -> None:
            """Close bars of phases TensorRT never finished (a failed or cancelled build)."""
            with self._lock:
                for bar in self._bars.values():
                    bar.close()
                self._bars.clear()
                self._depth.clear()

    return BuildProgress()
