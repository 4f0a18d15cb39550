"""Peak host memory (RSS) over a window of work, and device memory in use.

On Linux the kernel's high-water mark (VmHWM) can be reset by writing "5" to /proc/self/clear_refs, so
each benchmark case gets its own peak ("window" scope). Elsewhere the only peak is the process-lifetime
`ru_maxrss` ("process" scope); reports carry the scope so readers know which one they see.
"""

from __future__ import annotations

import resource
import sys
from dataclasses import dataclass

from ..dependencies import import_optional

_STATUS = "/proc/self/status"
_CLEAR_REFS = "/proc/self/clear_refs"
#: Writing this to clear_refs resets the peak RSS (see proc(5)).
_RESET_PEAK_RSS = "5"
KIB, MIB = 1024, 1024**2


def _status_bytes(field: str) -> int | None:
    """A memory field of /proc/self/status ("VmRSS", "VmHWM") in bytes; None where there is no such file."""
    try:
        with open(_STATUS, encoding="ascii") as f:
            for line in f:
                if line.startswith(f"{field}:"):
                    return int(line.split()[1]) * KIB
    except OSError:
        return None
    return None


def _vm_hwm_bytes() -> int | None:
    return _status_bytes("VmHWM")


def current_rss_mib() -> float:
    """Resident set size of this process now, in MiB (Linux /proc); `OSError` where it can't be read."""
    rss = _status_bytes("VmRSS")
    if rss is None:
        raise OSError(f"no VmRSS in {_STATUS}: current RSS needs Linux")
    return rss / MIB


def _ru_maxrss_bytes() -> int:
    maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    # Linux reports KiB, macOS bytes.
    return maxrss if sys.platform == "darwin" else maxrss * KIB


@dataclass
class PeakHostMemory:
    """Context manager: `peak_mib` is the peak RSS (MiB) while the block ran; `scope` says how it was measured."""

    peak_mib: float | None = None
    scope: str = "process"

    def __enter__(self) -> PeakHostMemory:
        try:
            with open(_CLEAR_REFS, "w", encoding="ascii") as f:
                f.write(_RESET_PEAK_RSS)
            self.scope = "window" if _vm_hwm_bytes() is not None else "process"
        except OSError:
            self.scope = "process"
        return self

    def __exit__(self, *exc_info) -> None:
        peak = _vm_hwm_bytes() if self.scope == "window" else None
        self.peak_mib = (peak if peak is not None else _ru_maxrss_bytes()) / MIB


def device_memory_used_mib() -> float | None:
    """Memory in use on the current CUDA device (total - free, MiB: every process and CUDA context).

    Asks CuPy (the runtime's GPU library) first, then torch; None when neither reaches a CUDA device.
    """
    try:
        cupy = import_optional("cupy", "device memory readings")
        free, total = cupy.cuda.runtime.memGetInfo()
        return (total - free) / MIB
    except ImportError:
        pass
    except cupy.cuda.runtime.CUDARuntimeError:
        pass
    try:
        torch = import_optional("torch", "device memory readings")
    except ImportError:
        return None
    if not torch.cuda.is_available():
        return None
    free, total = torch.cuda.mem_get_info()
    return (total - free) / MIB
