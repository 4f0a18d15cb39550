"""Which backend and precision combinations can run here, and why the others cannot.

Checked before anything heavy loads (`importlib.util.find_spec`, `nvidia-smi`), so the CLI can refuse
an impossible request in one line, or list the cases it skipped with their reasons.
"""

from __future__ import annotations

import importlib.util

from ..cpu_features import bf16_unavailable_reason
from ..gpus import gpu_visible

BACKENDS = ("tensorrt", "onnxruntime", "openvino", "torch")
PRECISIONS = ("fp32", "fp16", "bf16", "int8")
#: Preference order for the default backend: the fastest that can run here (openvino only when asked for:
#: its fp32 runs at ONNX Runtime's speed, and its bf16 and int8 are choices about accuracy).
BEST_FIRST = ("tensorrt", "onnxruntime", "torch")


def _installed(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def backend_unavailable_reason(backend: str) -> str | None:
    """Why `backend` cannot run on this machine, or None when it can."""
    if backend == "torch":
        return None if _installed("torch") else "PyTorch is not installed"
    if backend == "onnxruntime":
        return None if _installed("onnxruntime") else "onnxruntime is not installed (pip install 'vitpose-trt[cpu]')"
    if backend == "openvino":
        return None if _installed("openvino") else "openvino is not installed (pip install 'vitpose-trt[openvino]')"
    if not (_installed("tensorrt") or _installed("tensorrt_rtx")):
        return "neither tensorrt nor tensorrt_rtx is installed (pip install 'vitpose-trt[gpu]')"
    if not gpu_visible():
        return "TensorRT engines run only on an NVIDIA GPU and none is visible on this machine"
    if not _installed("cupy") and not _installed("torch"):
        return "the TensorRT backend needs CuPy (or torch with CUDA) for device buffers"
    return None


def combination_unsupported_reason(backend: str, precision: str) -> str | None:
    """Why `precision` makes no sense on `backend` here (torch x fp16 needs a GPU: torch-cuda; bf16 is OpenVINO's
    and needs a CPU with bf16 instructions), or None."""
    if precision == "bf16" and backend != "openvino":
        return "bf16 is OpenVINO's CPU precision (--backend openvino); elsewhere 16-bit floats are fp16"
    if backend == "openvino" and precision == "fp16":
        return "OpenVINO's CPU plugin computes 16-bit floats as bf16: use --precision bf16"
    if backend == "openvino" and precision == "bf16":
        return bf16_unavailable_reason()
    if backend == "torch" and precision == "int8":
        return "PyTorch eager has no int8 ViTPose path; int8 runs as a Q/DQ ONNX model (onnxruntime, tensorrt)"
    if backend == "torch" and precision == "fp16" and not gpu_visible():
        return ("PyTorch runs fp16 on the GPU only (torch-cuda); on the CPU fp16 runs as an fp16 ONNX model "
                "(onnxruntime)")
    return None


def best_backend() -> str | None:
    """The first backend of `BEST_FIRST` that can run here."""
    return next((b for b in BEST_FIRST if backend_unavailable_reason(b) is None), None)
