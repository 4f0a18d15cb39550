"""What a benchmark ran on: CPU (and its low-precision instructions), memory, GPUs, library versions, threads.

Library versions come from installed package metadata, so capturing them imports none of the heavy
libraries; GPUs come from `vitpose_trt.gpus` (nvidia-smi, when it is on PATH); the CPU's bf16 / int8
instructions from /proc/cpuinfo (`vitpose_trt.cpu_features`) and, where OpenVINO is installed, from
OpenVINO's own view of the CPU (the one library imported here, only when installed).
"""

from __future__ import annotations

import importlib.util
import os
import platform
import sys
from datetime import datetime, timezone
from importlib import metadata

from ..cpu_features import low_precision_flags
from ..gpus import nvidia_smi_gpus

#: Distributions whose versions a report records (several names for one library: first installed wins).
LIBRARIES = {
    "vitpose-trt": ("vitpose-trt",),
    "numpy": ("numpy",),
    "torch": ("torch",),
    "onnx": ("onnx",),
    "onnxruntime": ("onnxruntime", "onnxruntime-gpu"),
    "tensorrt": ("tensorrt", "tensorrt-cu13", "tensorrt-cu12"),
    "tensorrt_rtx": ("tensorrt-rtx-cu13", "tensorrt_rtx"),
    "cupy": ("cupy-cuda13x", "cupy-cuda12x", "cupy"),
    "nvidia-modelopt": ("nvidia-modelopt",),
    "opencv": ("opencv-python-headless", "opencv-python"),
    "openvino": ("openvino",),
    "nncf": ("nncf",),
}
BYTES_PER_GIB = 1024**3


def library_versions(libraries: dict[str, tuple[str, ...]] = LIBRARIES) -> dict[str, str | None]:
    """Installed version of each library in `libraries` (name -> distribution names; None when not installed)."""
    versions: dict[str, str | None] = {}
    for key, distributions in libraries.items():
        versions[key] = None
        for dist in distributions:
            try:
                versions[key] = metadata.version(dist)
                break
            except metadata.PackageNotFoundError:
                continue
    return versions


def cpu_model() -> str:
    """The CPU's marketing name ("AMD EPYC ..."), or `platform.processor()` where /proc is absent."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def total_memory_gib() -> float | None:
    """Physical memory in GiB (POSIX sysconf), None where unavailable."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / BYTES_PER_GIB
    except (AttributeError, ValueError, OSError):
        return None


def openvino_cpu_capabilities() -> list[str] | None:
    """OpenVINO's `OPTIMIZATION_CAPABILITIES` of the CPU ("FP32", "BF16", "INT8", ...), None without OpenVINO."""
    if importlib.util.find_spec("openvino") is None:
        return None
    import openvino

    return list(openvino.Core().get_property("CPU", "OPTIMIZATION_CAPABILITIES"))


def gpus() -> list[dict[str, str]]:
    """Visible NVIDIA GPUs as dicts (name, memory.total, driver_version, compute_cap); [] when none."""
    return [gpu.nvidia_smi_record() for gpu in nvidia_smi_gpus()]


def environment(threads: int | None = None) -> dict:
    """The report's "environment" object: host, CPU, memory, GPUs, Python, libraries, threads, time (UTC)."""
    return {
        "timestamp_utc": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "host": platform.node(),
        "os": platform.platform(),
        "python": sys.version.split()[0],
        "cpu": cpu_model(),
        "cpu_flags": low_precision_flags(),
        "openvino_cpu_capabilities": openvino_cpu_capabilities(),
        "cpu_count": os.cpu_count(),
        "cpu_affinity": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "memory_gib": total_memory_gib(),
        "gpus": gpus(),
        "threads": threads,
        "libraries": library_versions(),
    }
