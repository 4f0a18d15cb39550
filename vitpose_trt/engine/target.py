"""What an engine is built for: the local GPU (TensorRT) or a list of compute capabilities (TensorRT-RTX).

Compute capabilities are spelled like TensorRT-RTX's enum everywhere ("SM89" = 8.9).

- TensorRT 10/11 builds for the GPU it runs on; its engines are not portable across compute
  capabilities (and are tuned for the exact GPU model), so the target is that GPU's name and CC.
- TensorRT-RTX builds on a CPU for a set of compute capabilities. Without a choice it targets
  8.0, 8.6, 8.9, 12.0 "and later", never Turing (7.5) unless asked
  [read: docs.nvidia.com/deeplearning/tensorrt-rtx/latest/inference-library/cpu-engines.html].
  TensorRT-RTX 1.7 has no SM90 member (no H100/H200).
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from types import ModuleType

from ..dependencies import import_optional
from ..errors import ConfigError, DeviceError, MissingDependencyError
from .options import CURRENT_CC, normalized_compute_capability

#: RTX compute capabilities left out of its default target set (Turing: opt-in only, see module doc).
RTX_OPT_IN_TARGETS = ("SM75",)
#: Seconds to wait for `nvidia-smi` before giving up on it.
NVIDIA_SMI_TIMEOUT_S = 20


@dataclass(frozen=True)
class GpuInfo:
    name: str
    compute_capability: str  # "SM89"


def compute_capability_name(value) -> str:
    """Normalise "8.9", "89", "sm_89", "SM89" or (8, 9) to "SM89"; ConfigError otherwise."""
    if isinstance(value, tuple | list) and len(value) == 2:
        value = f"{int(value[0])}.{int(value[1])}"
    return normalized_compute_capability(str(value))


def rtx_targets(trt: ModuleType, requested: tuple[str, ...]) -> tuple[str, ...]:
    """The compute capabilities an RTX build will target: `requested`, or RTX's default set.

    Raises ConfigError for a capability this TensorRT-RTX cannot target (listing those it can),
    and for "CURRENT" mixed with others (the library allows it only alone).
    """
    known = [name for name in trt.ComputeCapability.__members__ if name.startswith("SM")]
    if not requested:
        return tuple(name for name in known if name not in RTX_OPT_IN_TARGETS)
    if CURRENT_CC in requested and len(requested) > 1:
        raise ConfigError("compute capability 'current' (the local GPU) cannot be combined with others")
    for name in requested:
        if name != CURRENT_CC and name not in known:
            raise ConfigError(
                f"TensorRT-RTX {trt.__version__} cannot target compute capability {name}; "
                f"it can target {', '.join(known)} (or 'current')"
            )
    return requested


def local_gpu() -> GpuInfo:
    """Name and compute capability of the CUDA device a TensorRT build runs on (device 0 / current).

    Uses CuPy when installed (it honours CUDA_VISIBLE_DEVICES ordering), else `nvidia-smi`.
    Raises DeviceError when neither can see a GPU.
    """
    try:
        cupy = import_optional("cupy", "querying the GPU")
    except MissingDependencyError:
        return _gpu_from_nvidia_smi()
    try:
        device = cupy.cuda.Device()
        props = cupy.cuda.runtime.getDeviceProperties(device.id)
    except cupy.cuda.runtime.CUDARuntimeError as exc:
        raise DeviceError(f"no usable CUDA device: {exc}") from exc
    name = props["name"].decode() if isinstance(props["name"], bytes) else str(props["name"])
    return GpuInfo(name, compute_capability_name((props["major"], props["minor"])))


def _gpu_from_nvidia_smi() -> GpuInfo:
    if shutil.which("nvidia-smi") is None:
        raise DeviceError("no CUDA device found (neither CuPy nor nvidia-smi is available)")
    result = subprocess.run(
        ["nvidia-smi", "--query-gpu=name,compute_cap", "--format=csv,noheader"],
        capture_output=True, text=True, timeout=NVIDIA_SMI_TIMEOUT_S,
    )
    lines = [line for line in result.stdout.splitlines() if line.strip()]
    if result.returncode != 0 or not lines:
        raise DeviceError(f"nvidia-smi found no usable GPU: {result.stderr.strip() or result.stdout.strip()}")
    return gpu_from_nvidia_smi_line(lines[0])


def gpu_from_nvidia_smi_line(line: str) -> GpuInfo:
    """Parse one `nvidia-smi --query-gpu=name,compute_cap --format=csv,noheader` line."""
    name, _, capability = line.rpartition(",")
    if not name:
        raise DeviceError(f"cannot read nvidia-smi output {line!r}")
    try:
        return GpuInfo(name.strip(), compute_capability_name(capability.strip()))
    except ConfigError as exc:
        raise DeviceError(f"cannot read nvidia-smi output {line!r}: {exc}") from exc
