"""Run `build_serialized_network` so that Ctrl-C cancels it cleanly.

The build runs in a worker thread (the library releases the GIL while it works), so the main thread
stays in Python and receives KeyboardInterrupt. On Ctrl-C the progress monitor's `step_complete`
starts returning False, TensorRT stops at its next step and returns None, the worker ends, and the
KeyboardInterrupt is re-raised. Nothing has been written to disk at that point.

The main thread waits on an Event the worker sets when the library call has returned, not on
Thread.join: on Python 3.11 a KeyboardInterrupt inside join() can mark a still-running thread as
stopped (bpo-45274's handler releases the running thread's lock), and a process that exits while
TensorRT still calls back into Python aborts ("FATAL: exception not rethrown").
"""

from __future__ import annotations

import threading

from ..errors import EngineBuildError

#: How often (seconds) the main thread wakes to let a pending KeyboardInterrupt through.
POLL_SECONDS = 0.05


def serialized_engine(builder, network, config, monitor, logger):
    """Return the serialized engine (an IHostMemory, usable as a buffer) built from `network` and `config`.

    `monitor` must already be `config.progress_monitor`. Raises EngineBuildError quoting the library's
    log when the build fails, KeyboardInterrupt when it was interrupted (after the build stopped).
    """
    outcome: dict[str, object] = {}
    returned = threading.Event()

    def build() -> None:
        try:
            outcome["plan"] = builder.build_serialized_network(network, config)
        except Exception as exc:  # re-raised in the calling thread below
            outcome["error"] = exc
        finally:
            returned.set()

    worker = threading.Thread(target=build, name="vitpose-trt-engine-build", daemon=True)
    try:
        worker.start()  # inside the try: Ctrl-C can already arrive while start() waits for the thread
        while not returned.wait(POLL_SECONDS):
            pass
    except BaseException:
        logger.stop_forwarding()
        monitor.cancel()
        _wait_through_interrupts(returned)
        raise
    finally:
        monitor.close()
    if "error" in outcome:
        raise EngineBuildError(f"the engine build raised {outcome['error']!r}:\n{logger.quoted_errors()}")
    plan = outcome.get("plan")
    if monitor.cancelled:
        raise KeyboardInterrupt
    if plan is None or plan.nbytes == 0:
        raise EngineBuildError(f"the engine build failed:\n{logger.quoted_errors()}")
    return plan


def _wait_through_interrupts(returned: threading.Event) -> None:
    """Wait until the library call has returned; more Ctrl-C presses are absorbed (TensorRT stops at its next step)."""
    while not returned.is_set():
        try:
            returned.wait(POLL_SECONDS)
        except KeyboardInterrupt:
            continue
