"""The one place that answers GPU questions: which NVIDIA GPUs are visible, their names and compute capabilities.

Used by the engine builder (what a TensorRT build targets), the runtime (the device it runs on) and the
benchmark (the report's environment, whether GPU backends can run). Two sources, both optional: CuPy
(the CUDA runtime's own view, honouring CUDA_VISIBLE_DEVICES) and `nvidia-smi` (no Python GPU library
needed), called with one timeout. Compute capabilities are spelled like TensorRT-RTX's enum: "SM89" = 8.9.
Standard library only; CuPy loads when a function needs it.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass

from .errors import ConfigError, DeviceError

#: Seconds to wait for `nvidia-smi` before giving up on it.
NVIDIA_SMI_TIMEOUT_S = 20
#: The fields asked of `nvidia-smi --query-gpu`, in order.
NVIDIA_SMI_FIELDS = ("name", "memory.total", "driver_version", "compute_cap")
#: The local GPU, as a compute-capability choice ("current").
CURRENT_CC = "CURRENT"
#: "SM89", "sm_89", "8.9" or "89" all mean compute capability 8.9.
_CC_PATTERN = re.compile(r"^(?:sm_?)?(\d{2,3})$|^(\d{1,2})\.(\d)$", re.IGNORECASE)


@dataclass(frozen=True)
class GpuInfo:
    """One visible GPU. compute_capability: "SM89"; memory_total / driver_version as nvidia-smi prints them
    ("" when the source does not say); total_memory_bytes from CUDA (None from nvidia-smi)."""

    index: int
    name: str
    compute_capability: str
    memory_total: str = ""
    driver_version: str = ""
    total_memory_bytes: int | None = None

    def nvidia_smi_record(self) -> dict[str, str]:
        """The GPU as `nvidia-smi --query-gpu` fields (the benchmark report's "gpus" entries)."""
        values = (self.name, self.memory_total, self.driver_version, dotted_compute_capability(self.compute_capability))
        return dict(zip(NVIDIA_SMI_FIELDS, values))


def normalized_compute_capability(text: str) -> str:
    """`text` spelled like a `tensorrt_rtx.ComputeCapability` member ("SM89"), or "CURRENT".

    Raises `ConfigError` for anything that is not a compute capability; whether a library can target it
    is for that library to say.
    """
    cleaned = str(text).strip()
    if cleaned.upper() == CURRENT_CC:
        return CURRENT_CC
    match = _CC_PATTERN.match(cleaned)
    if match is None:
        raise ConfigError(f"bad compute capability {text!r}: write it like 8.9, 89 or SM89")
    return f"SM{match.group(1) or match.group(2) + match.group(3)}"


def compute_capability_name(value) -> str:
    """"SM89" for "8.9", "89", "sm_89", "SM89" or (8, 9); `ConfigError` otherwise."""
    if isinstance(value, tuple | list) and len(value) == 2:
        value = f"{int(value[0])}.{int(value[1])}"
    return normalized_compute_capability(str(value))


def dotted_compute_capability(name: str) -> str:
    """"SM89" -> "8.9", "SM120" -> "12.0" (how nvidia-smi and the CLI write it)."""
    digits = name.removeprefix("SM")
    return f"{digits[:-1]}.{digits[-1]}" if digits.isdigit() else name


def nvidia_smi_gpus() -> list[GpuInfo]:
    """The GPUs `nvidia-smi` lists, in its order; [] when it is missing, fails or times out."""
    if shutil.which("nvidia-smi") is None:
        return []
    try:
        result = subprocess.run(["nvidia-smi", f"--query-gpu={','.join(NVIDIA_SMI_FIELDS)}", "--format=csv,noheader"],
                                capture_output=True, text=True, timeout=NVIDIA_SMI_TIMEOUT_S)
    except (OSError, subprocess.TimeoutExpired):
        return []
    if result.returncode != 0:
        return []
    lines = [line for line in result.stdout.splitlines() if line.strip()]
    return [gpu_from_nvidia_smi_line(line, index) for index, line in enumerate(lines)]


def gpu_from_nvidia_smi_line(line: str, index: int = 0) -> GpuInfo:
    """Parse one `nvidia-smi --query-gpu=name,memory.total,driver_version,compute_cap` line (a name may hold
    commas; the last three fields never do). Also takes the short `name,compute_cap` form."""
    parts = [part.strip() for part in line.split(",")]
    fields = len(NVIDIA_SMI_FIELDS) - 1 if len(parts) >= len(NVIDIA_SMI_FIELDS) else 1
    name, rest = ",".join(parts[:-fields]).strip(), parts[-fields:]
    if not name:
        raise DeviceError(f"cannot read nvidia-smi output {line!r}")
    memory, driver = (rest[0], rest[1]) if fields > 1 else ("", "")
    try:
        return GpuInfo(index, name, compute_capability_name(rest[-1]), memory, driver)
    except ConfigError as exc:
        raise DeviceError(f"cannot read nvidia-smi output {line!r}: {exc}") from exc


def gpu_visible() -> bool:
    """Whether `nvidia-smi` lists an NVIDIA GPU (no Python GPU library is loaded)."""
    return bool(nvidia_smi_gpus())


def gpu_from_cuda_properties(index: int, props: dict) -> GpuInfo:
    """A `GpuInfo` from `cupy.cuda.runtime.getDeviceProperties(index)`."""
    name = props["name"].decode() if isinstance(props["name"], bytes) else str(props["name"])
    capability = compute_capability_name((props["major"], props["minor"]))
    return GpuInfo(index, name, capability, total_memory_bytes=int(props["totalGlobalMem"]))


def current_gpu() -> GpuInfo:
    """The GPU work goes to: CuPy's current device when CuPy is installed, else nvidia-smi's first GPU.

    Raises `DeviceError` when neither sees one.
    """
    from .dependencies import import_optional
    from .errors import MissingDependencyError

    try:
        cupy = import_optional("cupy", "querying the GPU")
    except MissingDependencyError:
        visible = nvidia_smi_gpus()
        if not visible:
            raise DeviceError("no CUDA device found (CuPy is not installed and nvidia-smi lists no GPU)") from None
        return visible[0]
    try:
        index = cupy.cuda.runtime.getDevice()
        return gpu_from_cuda_properties(index, cupy.cuda.runtime.getDeviceProperties(index))
    except (cupy.cuda.runtime.CUDARuntimeError, cupy.cuda.driver.CUDADriverError) as exc:
        raise DeviceError(f"no usable CUDA device: {exc}") from exc
