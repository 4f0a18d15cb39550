"""A TensorRT logger that keeps the messages a failed build must quote, and forwards them to `logging`.

TensorRT calls `log` for every severity, VERBOSE included (thousands of lines per build), from its
own threads; messages below WARNING are dropped at once, the rest are kept (thread-safely) and
forwarded to the `vitpose_trt.engine` logger.
"""

from __future__ import annotations

import logging
import threading
from types import ModuleType

LOGGER = logging.getLogger("vitpose_trt.engine")
#: How many of the last warnings/errors an EngineBuildError quotes.
QUOTED_MESSAGES = 20


def build_logger(trt: ModuleType):
    """Return an ILogger of library `trt` whose `.errors` / `.warnings` lists hold what it was told."""

    severity = trt.ILogger.Severity
    errors = {severity.ERROR, severity.INTERNAL_ERROR}
    kept = errors | {severity.WARNING}

    class BuildLog(trt.ILogger):
        def __init__(self) -> None:
            trt.ILogger.__init__(self)
            self._lock = threading.Lock()
            self.errors: list[str] = []
            self.warnings: list[str] = []
            self.forwarding = True

        def log(self, level, msg) -> None:  # called by TensorRT, possibly from several threads
            if level not in kept:
                return
            is_error = level in errors
            with self._lock:
                (self.errors if is_error else self.warnings).append(str(msg))
            if self.forwarding:
                LOGGER.log(logging.ERROR if is_error else logging.WARNING, "%s", msg)

        def stop_forwarding(self) -> None:
            """Keep recording but stop forwarding (a cancelled build's "BuildCanceled" error is expected)."""
            self.forwarding = False

        def quoted_errors(self) -> str:
            """The last errors (or, without any, warnings) as one line each, for an exception message."""
            with self._lock:
                lines = self.errors or self.warnings
                return "\n".join(lines[-QUOTED_MESSAGES:]) or "(the library logged no error)"

    return BuildLog()
