"""TensorRT backend: a serialized `.engine` plus its sidecar, run on the GPU with CuPy buffers and CUDA graphs.

The sidecar (`engine/sidecar.py`) names the library that built the engine (tensorrt or tensorrt_rtx)
and the compute capabilities it targets; the engine is refused with a rebuild command when this
machine's library version or GPU differ. Crops come in and heatmaps go out as CuPy arrays on the
caller's current stream; each stream gets its own execution context (`tensorrt_execution.py`).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

from ...dependencies import import_optional
from ...engine.builder_log import build_logger
from ...engine.sidecar import EngineSidecar, check_engine_compatible, sidecar_for_engine, sidecar_path_for
from ...errors import ConfigError, EngineLoadError
from ...specs import INPUT_HEIGHT, INPUT_WIDTH
from ..cuda_device import cuda_device, execution_stream
from .base import Backend, checked_max_batch
from .tensorrt_execution import EngineIO, StreamExecution

#: Handles of CUDA's implicit streams (legacy default, per-thread default): not capturable into graphs.
IMPLICIT_STREAM_HANDLES = (0, 1, 2)
_PROFILE = 0
_BATCH_AXIS = 0
_HEATMAP_NDIM = 4


class TensorRTBackend(Backend):
    """A TensorRT / TensorRT-RTX engine on the current CUDA device.

    source: the `.engine` / `.plan` path (its sidecar `<stem>.json` must sit next to it). max_batch:
    most crops per inference, at most the engine profile's maximum (None: that maximum). threads is
    accepted for the common backend signature and unused. cuda_graphs: capture one graph per batch
    bucket after warm-up. device: CUDA device index (None: CuPy's current device).
    """

    name = "tensorrt"
    device = "cuda"

    def __init__(self, source, *, max_batch: int | None = None, threads: int | None = None,
                 cuda_graphs: bool = True, device: int | None = None):
        path = Path(source)
        sidecar = sidecar_for_engine(path)
        blob = engine_bytes_matching(path, sidecar)  # file problems are reported before GPU problems
        self.metadata = sidecar.artifact
        self.trt = import_optional(sidecar.library, f"running the engine {path.name}")
        self.cuda = cuda_device(device, "the TensorRT backend")
        import cupy as cp  # cuda_device() has imported it

        self._cp = cp
        check_engine_compatible(sidecar, self.trt, self.cuda.name, self.cuda.compute_capability, engine_path=path)
        self._logger = build_logger(self.trt)
        self._runtime = self.trt.Runtime(self._logger)
        self.engine = self._deserialized(path, blob)
        self.io = _engine_io(self.trt, self.engine, self.metadata)
        profile_max = _profile_max_batch(self.engine, self.io.input_name)
        self.max_batch = checked_max_batch(max_batch, default=profile_max)
        if self.max_batch > profile_max:
            raise ConfigError(f"max_batch {self.max_batch} exceeds the engine's profile maximum {profile_max}; "
                              "rebuild the engine with a larger --batch")
        self.cuda_graphs = bool(cuda_graphs)
        self._executions: dict[int, StreamExecution] = {}
        self._own_stream = cp.cuda.Stream(non_blocking=True)

    def _deserialized(self, path: Path, blob: bytes):
        engine = self._runtime.deserialize_cuda_engine(blob)
        if engine is None:
            raise EngineLoadError(f"{self.trt.__name__} could not load {path}:\n{self._logger.quoted_errors()}")
        return engine

    def infer(self, crops):
        """(N, K, 64, 48) float32 CuPy heatmaps for (N, 3, 256, 192) CuPy crops, N <= max_batch.

        Runs on the caller's current CuPy stream (on an internal stream, ordered with events, when that
        is an implicit default stream). The result is reused by the next call on the same stream.
        """
        cp = self._cp
        crops = crops if isinstance(crops, cp.ndarray) else cp.asarray(crops)
        count = len(crops)
        if crops.shape[1:] != (3, INPUT_HEIGHT, INPUT_WIDTH) or not 1 <= count <= self.max_batch:
            raise ConfigError(f"infer takes (1..{self.max_batch}, 3, {INPUT_HEIGHT}, {INPUT_WIDTH}) crops, "
                              f"got {crops.shape}")
        caller = execution_stream(cp)
        if caller.ptr not in IMPLICIT_STREAM_HANDLES:
            return self._execution_for(caller).run(crops, count)
        self._own_stream.wait_event(caller.record())
        heatmaps = self._execution_for(self._own_stream).run(crops, count)
        caller.wait_event(self._own_stream.record())
        return heatmaps

    def input_buffer(self):
        """The engine's (max_batch, 3, 256, 192) CuPy input buffer for the current stream, in its dtype.

        A crop stage writing here (`CudaCrops(..., out=backend.input_buffer())`) saves `infer` its copy.
        """
        caller = execution_stream(self._cp)
        stream = caller if caller.ptr not in IMPLICIT_STREAM_HANDLES else self._own_stream
        return self._execution_for(stream).input

    def _execution_for(self, stream) -> StreamExecution:
        execution = self._executions.get(stream.ptr)
        if execution is None:
            execution = StreamExecution(self.trt, self._cp, self.engine, self.io, self.max_batch, stream,
                                        self.cuda_graphs)
            self._executions[stream.ptr] = execution
        return execution


def engine_bytes_matching(path: Path, sidecar: EngineSidecar) -> bytes:
    """The bytes of the engine file at `path`, checked against its sidecar's size and sha256.

    Raises `EngineLoadError` naming the file and the fix when it is unreadable, truncated, modified or
    another engine than the one the sidecar describes. Needs no GPU and no TensorRT.
    """
    try:
        blob = path.read_bytes()
    except OSError as exc:
        raise EngineLoadError(f"cannot read {path}: {exc.strerror or exc}") from exc
    sidecar_name = sidecar_path_for(path).name
    if len(blob) != sidecar.engine_bytes:
        kind = "truncated" if len(blob) < sidecar.engine_bytes else "another file"
        problem = f"is {len(blob)} bytes but its sidecar {sidecar_name} describes {sidecar.engine_bytes} ({kind})"
    elif hashlib.sha256(blob).hexdigest() != sidecar.engine_sha256:
        problem = f"does not match the sha256 in its sidecar {sidecar_name} (a different or modified engine)"
    else:
        return blob
    raise EngineLoadError(f"{path} {problem}; rebuild the engine and its sidecar together with vitpose-export "
                          "(--force), or put the matching sidecar next to it")


def _engine_io(trt, engine, metadata) -> EngineIO:
    """Input/output names and dtypes from the engine, checked against the sidecar's metadata."""
    names = {engine.get_tensor_name(i) for i in range(engine.num_io_tensors)}
    for name in (metadata.input_name, metadata.output_name):
        if name not in names:
            raise EngineLoadError(f"the engine has no tensor {name!r} (it has {sorted(names)}); rebuild it")
    heatmap_shape = (metadata.num_keypoints, *metadata.heatmap_size)
    engine_shape = tuple(engine.get_tensor_shape(metadata.output_name))
    if len(engine_shape) != _HEATMAP_NDIM or engine_shape[1:] != heatmap_shape:
        raise EngineLoadError(f"the engine's output shape {engine_shape} does not match (N, {heatmap_shape})")
    return EngineIO(
        input_name=metadata.input_name,
        output_name=metadata.output_name,
        input_dtype=np.dtype(trt.nptype(engine.get_tensor_dtype(metadata.input_name))),
        output_dtype=np.dtype(trt.nptype(engine.get_tensor_dtype(metadata.output_name))),
        heatmap_shape=heatmap_shape,
    )


def _profile_max_batch(engine, input_name: str) -> int:
    """The largest batch profile 0 accepts for the input tensor."""
    _, _, largest = engine.get_tensor_profile_shape(input_name, _PROFILE)
    return int(largest[_BATCH_AXIS])
