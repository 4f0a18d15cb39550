"""Inference backends by name; each loads its engine library only when opened.

`open_backend(source, backend="auto")` picks by what `source` is: `.engine`/`.plan` -> tensorrt,
`.onnx` -> onnxruntime, an OpenVINO IR `.xml` -> openvino, a checkpoint path, a Hugging Face Hub id (org/name[@revision]), a model name or
a CPU torch module -> torch, a torch module on the GPU -> torch-cuda.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

from ...artifacts.io import ModelIO
from ...artifacts.onnx_metadata import ONNX_SUFFIX
from ...artifacts.openvino_metadata import OPENVINO_SUFFIX
from ...artifacts.sidecar import ENGINE_SUFFIXES
from ...errors import ConfigError
from ...model.hub import is_hub_id
from ...specs import MODELS
from .base import DEFAULT_MAX_BATCH, Backend

#: Backend name -> (module in this package, class name).
BACKENDS = {
    "onnxruntime": ("onnxruntime", "OnnxRuntimeBackend"),
    "torch": ("torch", "TorchBackend"),
    "tensorrt": ("tensorrt", "TensorRTBackend"),
    "torch-cuda": ("torch_cuda", "TorchCudaBackend"),
    "openvino": ("openvino", "OpenVinoBackend"),
}
AUTO = "auto"

__all__ = ["AUTO", "BACKENDS", "DEFAULT_MAX_BATCH", "Backend", "backend_class", "backend_name_for", "checked_precision",
           "open_backend"]


def _is_torch_module(source) -> bool:
    # torch is only loaded if the caller already imported it (a module instance implies it).
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(source, torch.nn.Module)


def backend_name_for(source) -> str:
    """The backend "auto" picks for `source` (a path, a Hub id, a model name or a torch module).

    A torch module runs where its parameters are: "torch-cuda" when they are on a GPU, else "torch".
    """
    if _is_torch_module(source):
        parameter = next(source.parameters(), None)
        return "torch-cuda" if parameter is not None and parameter.device.type == "cuda" else "torch"
    if not isinstance(source, (str, Path)):
        raise ConfigError(
            f"cannot run a {type(source).__name__}: pass an .engine/.onnx/checkpoint path, a Hugging Face Hub "
            "id, a model name or a torch module"
        )
    suffix = Path(source).suffix.lower()
    if suffix in ENGINE_SUFFIXES:
        return "tensorrt"
    if suffix == ONNX_SUFFIX:
        return "onnxruntime"
    if suffix == OPENVINO_SUFFIX:
        return "openvino"
    if Path(source).exists() or str(source) in MODELS or is_hub_id(source):
        return "torch"
    raise ConfigError(f"{source}: no such file or folder, not a Hugging Face Hub id (org/name[@revision]) and "
                      f"not a model name ({', '.join(MODELS)})")


def backend_class(name: str) -> type[Backend]:
    """The class registered as `name`, imported now (its engine library still loads lazily)."""
    if not isinstance(name, str) or name not in BACKENDS:
        raise ConfigError(f"unknown backend {name!r}; valid: {AUTO}, {', '.join(BACKENDS)}")
    module_name, class_name = BACKENDS[name]
    module = importlib.import_module(f"{__name__}.{module_name}")
    return getattr(module, class_name)


def open_backend(source, backend: str = AUTO, *, max_batch: int | None = None, threads: int | None = None,
                 io: ModelIO | None = None, precision: str | None = None) -> Backend:
    """Load `source` into the backend named `backend` ("auto" = `backend_name_for(source)`); a `Backend`
    already loaded (say, torch-cuda with precision="fp32") is returned as it is.

    max_batch: most items per call (None: the artifact's limit or DEFAULT_MAX_BATCH).
    threads: CPU threads for CPU backends (None: the library's default). io: the inputs and outputs of a
    torch module other than ViTPose (model files describe their own). precision: what a backend that
    chooses it computes the model in (`Backend.precisions`: torch-cuda "fp16" | "fp32", openvino "fp32" |
    "bf16"); None = that backend's default (torch-cuda fp16, openvino fp32). Other backends run a file in
    the precision it was exported in and refuse any `precision`.
    """
    if isinstance(source, Backend):
        return _opened(source, backend, max_batch, threads, io, precision)
    name = backend_name_for(source) if backend == AUTO else backend
    cls = backend_class(name)
    options = {} if precision is None else {"precision": _checked_precision(cls, precision)}
    return cls(source, max_batch=max_batch, threads=threads, io=io, **options)


def checked_precision(source, backend: str, precision: str) -> str:
    """`precision` when the backend `backend` ("auto": the one `source` picks) computes models in a precision of
    its choosing and this is one of them; else `ConfigError`. Nothing is loaded (the check a CLI makes first)."""
    name = backend_name_for(source) if backend == AUTO else backend
    return _checked_precision(backend_class(name), precision)


def _checked_precision(cls: type[Backend], precision: str) -> str:
    """`precision` when `cls` computes models in a precision of its choosing and this is one; else `ConfigError`."""
    if not cls.precisions:
        choosers = ", ".join(f"{name} ({' | '.join(chooser.precisions)})" for name in BACKENDS
                             if (chooser := backend_class(name)).precisions)
        raise ConfigError(f"the {cls.name} backend runs a file in the precision it was exported in; precision= "
                          f"is for {choosers}")
    if precision not in cls.precisions:
        raise ConfigError(f"unknown precision {precision!r} for {cls.name}; valid: {', '.join(cls.precisions)}")
    return precision


def _opened(loaded: Backend, backend: str, max_batch, threads, io, precision) -> Backend:
    """An already loaded backend, as it is; options that would change it are refused."""
    if backend not in (AUTO, loaded.name):
        raise ConfigError(f"this model is already loaded on {loaded.name}; backend={backend!r} cannot change that")
    if max_batch is not None or threads is not None or io is not None or precision is not None:
        raise ConfigError("max_batch, threads, io and precision are set when a backend is opened, not on a "
                          "loaded one")
    return loaded
