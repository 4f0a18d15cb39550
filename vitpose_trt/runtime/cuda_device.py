"""The CUDA device the GPU runtime runs on, found through CuPy, and `DeviceError` when there is none.

CuPy loads lazily (`import_optional`): importing this module needs only numpy. What the device is (name,
compute capability) is `vitpose_trt.gpus`' answer. Every GPU module of the
runtime (crop kernel, TensorRT and torch-cuda backends) starts from `cuda_device()`, so a machine without
a usable GPU fails in one place with one clear message.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from ..dependencies import import_optional
from ..errors import ConfigError, DeviceError
from ..gpus import GpuInfo, gpu_from_cuda_properties

#: What a user without a GPU can run instead; part of every DeviceError message.
CPU_ALTERNATIVE = "run on the CPU instead with an .onnx model (backend='onnxruntime') or backend='torch'"


def cupy_module(feature: str = "the GPU runtime"):
    """The imported `cupy`, or `MissingDependencyError` saying how to install it."""
    return import_optional("cupy", feature)


def cuda_errors(cp) -> tuple[type[BaseException], ...]:
    """The exception types CuPy raises for CUDA runtime and driver failures (no driver, no device)."""
    return (cp.cuda.runtime.CUDARuntimeError, cp.cuda.driver.CUDADriverError)


def cuda_device(index: int | None = None, feature: str = "the GPU runtime") -> GpuInfo:
    """Return the CUDA device `index` (None: CuPy's current device) and make it current.

    Raises `MissingDependencyError` when CuPy is not installed, `DeviceError` when CUDA reports no
    usable device (no GPU, no driver, a driver too old for this CuPy), `ConfigError` for an index
    outside 0..count-1.
    """
    cp = cupy_module(feature)
    try:
        count = cp.cuda.runtime.getDeviceCount()
    except cuda_errors(cp) as exc:
        raise DeviceError(f"{feature} needs an NVIDIA GPU, but CUDA found none ({exc}); {CPU_ALTERNATIVE}") from exc
    if count < 1:
        raise DeviceError(f"{feature} needs an NVIDIA GPU, but CUDA reports 0 devices; {CPU_ALTERNATIVE}")
    if index is None:
        index = cp.cuda.runtime.getDevice()
    if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < count:
        raise ConfigError(f"CUDA device index must be an integer in 0..{count - 1}, got {index!r}")
    cp.cuda.Device(index).use()
    return gpu_from_cuda_properties(index, cp.cuda.runtime.getDeviceProperties(index))


#: Handles of CUDA's implicit streams (legacy default, per-thread default): not capturable into graphs.
IMPLICIT_STREAM_HANDLES = (0, 1, 2)

_Result = TypeVar("_Result")


def result_on_explicit_stream(cp, own_stream, work: Callable[[object], _Result]) -> _Result:
    """`work(stream)` on the caller's current CuPy stream, or, when that is one of CUDA's implicit default
    streams, on `own_stream`: after the caller's queued work and before its next (events, no host wait).

    Graph launches need an explicit stream: TensorRT cannot capture on an implicit one, and PyTorch's CUDA
    graphs replayed on CuPy's legacy default stream gave outputs the next kernels read before the replay had
    written them (H200, PyTorch 2.11: `tests/gpu/test_cuda_runtime.py`'s graph test).
    """
    caller = execution_stream(cp)
    if caller.ptr not in IMPLICIT_STREAM_HANDLES:
        return work(caller)
    own_stream.wait_event(caller.record())
    result = work(own_stream)
    caller.wait_event(own_stream.record())
    return result


def execution_stream(cp):
    """The CuPy stream to enqueue GPU work on: the caller's current stream, as a `cupy.cuda.Stream`.

    Work queued here is ordered after whatever the caller queued on the same stream; callers wanting
    overlap use `with cupy.cuda.Stream(non_blocking=True):` around their calls.
    """
    return cp.cuda.get_current_stream()
