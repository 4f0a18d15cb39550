"""A model loaded on one backend, with a fixed input batch: the thing a model-only benchmark times.

Every backend is the runtime's own (`vitpose_trt.runtime.backends.BACKENDS`), so the numbers are those
users get from `PoseEstimator`'s inference stage: numpy in and out on the CPU backends, CuPy arrays
already on the device for the GPU backends (host<->device copies belong to pipeline mode).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..artifacts.build_options import DEFAULT_BATCH
from ..artifacts.metadata import ArtifactMetadata
from ..dependencies import import_optional
from ..errors import ConfigError
from .artifacts import RANDOM_WEIGHTS_NOTE, onnx_for, onnx_target_for, torch_model
from .sources import ModelSource
from .timing import CudaEventClock, HostClock

#: Precisions the torch backends run a module in.
TORCH_PRECISIONS = {"torch": ("fp32",), "torch-cuda": ("fp32", "fp16")}
#: Seed of the random input crops (values do not change the speed of a dense network).
INPUT_SEED = 0


@dataclass
class Target:
    """`run()` infers one batch; `clock` times it; `device` is "cpu" or "cuda"; `artifact` the file loaded;
    `metadata` the loaded model's (architecture and keypoint count, for FLOP counts)."""

    run: Callable[[], object]
    clock: object
    device: str
    artifact: str | None
    metadata: ArtifactMetadata
    notes: list[str] = field(default_factory=list)


def random_inputs(spec, batch: int) -> np.ndarray:
    """(batch, *item shape) standard-normal values of the input `spec` (a `TensorSpec`; the scale of normalised
    images), in its dtype."""
    rng = np.random.default_rng(INPUT_SEED)
    return rng.standard_normal((batch, *spec.item_shape), dtype=np.float32).astype(spec.dtype, copy=False)


def backend_source(source: ModelSource, backend: str, precision: str, batch: int, folder: Path):
    """What to hand the `backend` class: an ONNX path, an engine path, or a torch module."""
    if backend in ("onnxruntime", "openvino"):
        # bf16 is OpenVINO computing the fp32 file (no file of its own)
        in_file = "fp32" if precision == "bf16" else precision
        return onnx_for(source, in_file, folder, onnx_target_for(backend, precision))
    if backend == "tensorrt":
        return source.path if source.kind == "engine" else _engine_for(source, precision, batch, folder)
    runs = TORCH_PRECISIONS[runtime_backend_name(backend)]
    if precision not in runs:
        raise ConfigError(f"the {runtime_backend_name(backend)} backend runs {' or '.join(runs)}, not {precision}")
    return torch_model(source)


def opened_backend(backend: str, loaded_from, precision: str, batch: int, threads: int | None):
    """The runtime backend behind a report's `backend`, loaded from `loaded_from` (`backend_source`) for
    `batch` items per call; torch-cuda in the case's `precision`, openvino computing in bf16 for a bf16 case
    (else fp32, also for an int8 IR's unquantized rest), so rows say what really ran."""
    from ..runtime.backends import backend_class

    name = runtime_backend_name(backend)
    options = {"precision": precision} if name == "torch-cuda" else {}
    if name == "openvino":
        options = {"precision": "bf16" if precision == "bf16" else "fp32"}
    return backend_class(name)(loaded_from, max_batch=batch, threads=threads, **options)


def _engine_for(source: ModelSource, precision: str, batch: int, folder: Path) -> Path:
    from ..engine import BuildOptions, engine_from_onnx

    # One engine serves every batch up to the default profile's MAX; the builder skips the build when
    # its sidecar says the ONNX and settings are unchanged.
    low, opt, high = DEFAULT_BATCH
    options = BuildOptions(batch=(low, opt, max(high, batch)))
    return engine_from_onnx(onnx_for(source, precision, folder), options).engine_path


def loaded_target(source: ModelSource, backend: str, loaded_from, batch: int, threads: int | None,
                  case_precision: str = "fp32") -> Target:
    """Load `loaded_from` (from `backend_source`) on `backend` for `batch` crops per call, `threads` CPU threads,
    in `case_precision` where the backend chooses it (torch-cuda)."""
    from ..runtime.pose_model import pose_metadata_for

    name = runtime_backend_name(backend)
    engine = opened_backend(backend, loaded_from, case_precision, batch, threads)
    metadata = pose_metadata_for(engine)
    crops_input = engine.io.input(metadata.pose.input_name)
    crops = random_inputs(crops_input, batch)
    if engine.device == "cuda":
        cupy = import_optional("cupy", "GPU benchmarks")
        crops = cupy.asarray(crops)
        clock = CudaEventClock()
    else:
        clock = HostClock()
    artifact = None if backend == "torch" else str(loaded_from)
    notes = [RANDOM_WEIGHTS_NOTE] if source.kind == "name" else []
    notes += [f"runtime backend {name}"] + ([f"providers {','.join(engine.providers)}"]
                                             if hasattr(engine, "providers") else [])
    notes += [f"OpenVINO computes unquantized ops in {engine.precision}"] if name == "openvino" else []
    inputs = {crops_input.name: crops}
    return Target(run=lambda: engine.run(inputs), clock=clock, device=engine.device, artifact=artifact,
                  metadata=metadata, notes=notes)


def runtime_backend_name(backend: str) -> str:
    """The runtime backend behind a report's backend: "torch" is eager PyTorch wherever it runs, which
    on a machine with CUDA is the torch-cuda backend."""
    if backend != "torch":
        return backend
    torch = import_optional("torch", "the torch backend")
    return "torch-cuda" if torch.cuda.is_available() else backend
