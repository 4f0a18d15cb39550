"""Lazy imports of optional heavy libraries, with an install hint when one is missing."""

from __future__ import annotations

import importlib
from types import ModuleType

from .errors import MissingDependencyError

#: What to install for each optional module (import name -> pip requirement / extra).
INSTALL_HINTS = {
    "torch": "PyTorch for your platform first (https://pytorch.org), e.g. `pip install torch`",
    "onnx": "`pip install 'vitpose-trt[export]'`",
    "onnxslim": "`pip install 'vitpose-trt[export]'`",
    "modelopt": "`pip install 'vitpose-trt[export]'` (nvidia-modelopt without its [onnx] extra)",
    "onnxruntime": "`pip install 'vitpose-trt[cpu]'` (or onnxruntime-gpu)",
    "tensorrt": "TensorRT: `pip install 'vitpose-trt[gpu]'`, or JetPack's python3-libnvinfer on Jetson",
    "tensorrt_rtx": "`pip install 'vitpose-trt[rtx]'` (TensorRT-RTX, tensorrt-rtx-cu13)",
    "cupy": "CuPy for your CUDA version, e.g. `pip install cupy-cuda13x` (or 'vitpose-trt[gpu]')",
    "cv2": "`pip install 'vitpose-trt[cpu]'` (opencv-python-headless)",
    "safetensors": "`pip install safetensors`",
    "transformers": "`pip install transformers`",
    "huggingface_hub": "`pip install 'vitpose-trt[hub]'`",
    "matplotlib": "`pip install 'vitpose-trt[bench]'`",
    "pycocotools": "`pip install 'vitpose-trt[eval]'`",
    "scipy": "`pip install 'vitpose-trt[video]'` (SciPy)",
    "av": "`pip install 'vitpose-trt[h264]'` (PyAV: FFmpeg with libx264)",
    "pytriton": "`pip install 'vitpose-trt[cpu,serve]'` (nvidia-pytriton; in an environment of its own: it needs numpy<2)",
    "tritonclient": "`pip install 'vitpose-trt[serve-client]'`",
}


def import_optional(name: str, feature: str = "") -> ModuleType:
    """Return the imported module `name`, or raise `MissingDependencyError` saying what to install.

    `feature` names what needed it ("ONNX export", "the TensorRT backend") for the message.
    """
    try:
        return importlib.import_module(name)
    except ImportError as exc:
        top = name.split(".")[0]
        hint = INSTALL_HINTS.get(top, f"`pip install {top}`")
        needed = f" for {feature}" if feature else ""
        raise MissingDependencyError(f"{top} is needed{needed} but is not installed: install {hint}") from exc
