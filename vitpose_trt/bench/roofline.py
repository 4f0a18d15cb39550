"""The device's measured matmul peak (FLOP/s), the denominator of a report's "% of roofline".

Measured once per report with a square matrix product, the operation that dominates a ViT: on the CPU
with PyTorch (or numpy when torch is absent) at the benchmark's thread count, on the GPU with PyTorch
(or CuPy) timed by CUDA events. The CPU peak is FP32 (the CPU backends' int8/fp16 results are quoted
against it); the GPU peak is measured in the precision of the result it rates.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass

import numpy as np

from ..dependencies import import_optional
from ..errors import ConfigError

#: Square matrix sizes: large enough to reach the BLAS plateau, small enough to run in ~1 s.
CPU_MATRIX_SIZE = 2048
GPU_MATRIX_SIZE = 8192
#: Timed repetitions after one warm-up; the best one is the peak (noise only ever slows a run down).
REPEATS = 5
GPU_PRECISIONS = ("fp32", "fp16", "int8")
FLOPS_PER_MAC = 2


@dataclass(frozen=True)
class MatmulPeak:
    """A measured peak: `flops_per_s` of an n x n x n `precision` matmul on `device` via `library`."""

    device: str
    precision: str
    flops_per_s: float
    matrix_size: int
    library: str
    threads: int | None = None

    def to_dict(self) -> dict:
        return asdict(self)


def _matmul_flops(size: int) -> float:
    return float(FLOPS_PER_MAC * size**3)


def cpu_matmul_peak(threads: int | None = None, size: int = CPU_MATRIX_SIZE, repeats: int = REPEATS) -> MatmulPeak:
    """FP32 matmul peak of this CPU with `threads` threads (None: the library's default).

    Uses torch when installed (its thread count is set for the measurement and restored after);
    otherwise numpy, whose BLAS thread count cannot be set at run time (recorded as None).
    """
    if threads is not None and threads < 1:
        raise ConfigError(f"threads must be >= 1, got {threads}")
    try:
        torch = import_optional("torch", "the CPU matmul peak")
    except ImportError:
        a = np.random.default_rng(0).standard_normal((size, size), dtype=np.float32)
        best = _best_seconds(lambda: a @ a, repeats)
        return MatmulPeak("cpu", "fp32", _matmul_flops(size) / best, size, f"numpy {np.__version__}")
    previous = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(threads)
    try:
        a = torch.randn(size, size, generator=torch.Generator().manual_seed(0))
        with torch.inference_mode():
            best = _best_seconds(lambda: torch.mm(a, a), repeats)
        used = torch.get_num_threads()
    finally:
        torch.set_num_threads(previous)
    return MatmulPeak("cpu", "fp32", _matmul_flops(size) / best, size, f"torch {torch.__version__}", used)


def _best_seconds(call, repeats: int) -> float:
    call()  # warm-up: thread pools, page faults, BLAS dispatch
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        call()
        best = min(best, time.perf_counter() - start)
    return best


def gpu_matmul_peak(precision: str, size: int = GPU_MATRIX_SIZE, repeats: int = REPEATS) -> MatmulPeak:
    """Matmul peak of the current CUDA device in `precision` (fp32 without TF32, fp16, int8).

    Uses torch.cuda (int8 via `torch._int_mm`) when available, else CuPy (fp32/fp16 only).
    Raises `ConfigError` for an unknown precision, `MissingDependencyError` without either library.
    """
    if precision not in GPU_PRECISIONS:
        raise ConfigError(f"no GPU matmul peak for precision {precision!r}; choose from {GPU_PRECISIONS}")
    try:
        torch = import_optional("torch", "the GPU matmul peak")
        if torch.cuda.is_available():
            return _torch_gpu_peak(torch, precision, size, repeats)
    except ImportError:
        pass
    cupy = import_optional("cupy", "the GPU matmul peak")
    return _cupy_gpu_peak(cupy, precision, size, repeats)


def _torch_gpu_peak(torch, precision: str, size: int, repeats: int) -> MatmulPeak:
    if precision == "int8":
        a = torch.randint(-64, 64, (size, size), dtype=torch.int8, device="cuda")
        call = lambda: torch._int_mm(a, a)  # noqa: E731
    else:
        dtype = torch.float16 if precision == "fp16" else torch.float32
        a = torch.randn(size, size, device="cuda", dtype=dtype)
        call = lambda: torch.mm(a, a)  # noqa: E731
    previous_tf32 = torch.backends.cuda.matmul.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = False  # an FP32 peak, not TF32 tensor cores
    try:
        best = _best_cuda_seconds(torch.cuda.Event, torch.cuda.synchronize, call, repeats)
    finally:
        torch.backends.cuda.matmul.allow_tf32 = previous_tf32
        del a, call
        torch.cuda.empty_cache()  # hand the matrices back so later device-memory readings exclude them
    name = torch.cuda.get_device_name()
    return MatmulPeak(f"cuda:{name}", precision, _matmul_flops(size) / best, size, f"torch {torch.__version__}")


def _cupy_gpu_peak(cupy, precision: str, size: int, repeats: int) -> MatmulPeak:
    if precision == "int8":
        raise ConfigError("the int8 GPU matmul peak needs torch (torch._int_mm); CuPy has no int8 GEMM")
    dtype = cupy.float16 if precision == "fp16" else cupy.float32
    a = cupy.random.standard_normal((size, size), dtype=cupy.float32).astype(dtype)
    best = _best_cuda_seconds(lambda **kw: cupy.cuda.Event(), cupy.cuda.Device().synchronize,
                              lambda: a @ a, repeats)
    props = cupy.cuda.runtime.getDeviceProperties(cupy.cuda.Device().id)
    name = props["name"].decode() if isinstance(props["name"], bytes) else props["name"]
    return MatmulPeak(f"cuda:{name}", precision, _matmul_flops(size) / best, size, f"cupy {cupy.__version__}")


def _best_cuda_seconds(make_event, synchronize, call, repeats: int) -> float:
    call()
    synchronize()
    best = float("inf")
    for _ in range(repeats):
        start, end = make_event(enable_timing=True), make_event(enable_timing=True)
        start.record()
        call()
        end.record()
        end.synchronize()
        elapsed_ms = start.elapsed_time(end) if hasattr(start, "elapsed_time") else _cupy_elapsed(start, end)
        best = min(best, elapsed_ms / 1000.0)
    return best


def _cupy_elapsed(start, end) -> float:
    cupy = import_optional("cupy", "the GPU matmul peak")
    return cupy.cuda.get_elapsed_time(start, end)


def roofline_percent(achieved_flops_per_s: float, peak: MatmulPeak) -> float:
    """Achieved FLOP/s as a percentage of the measured peak."""
    return 100.0 * achieved_flops_per_s / peak.flops_per_s
