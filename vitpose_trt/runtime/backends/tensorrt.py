"""TensorRT backend: a serialized `.engine` plus its sidecar, run on the GPU with CuPy buffers and CUDA graphs.

The sidecar (`artifacts/sidecar.py`) names the library that built the engine (tensorrt or tensorrt_rtx)
and the compute capabilities it targets; the engine is refused with a rebuild command when this
machine's library version or GPU differ. The IO description is read from the engine itself (its I/O
tensors and profile 0); arrays come in and go out as CuPy arrays on the caller's current stream, and
each stream gets its own execution context (`tensorrt_execution.py`).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

from ...artifacts.io import ModelIO, TensorSpec
from ...artifacts.sidecar import EngineSidecar, sidecar_for_engine, sidecar_path_for
from ...dependencies import import_optional
from ...engine.builder_log import build_logger
from ...engine.compatibility import check_engine_compatible
from ...errors import ConfigError, EngineLoadError
from ..cuda_device import IMPLICIT_STREAM_HANDLES, cuda_device, execution_stream, result_on_explicit_stream
from .base import Backend, checked_max_batch, refused_io
from .tensorrt_execution import StreamExecution

_PROFILE = 0
_BATCH_AXIS = 0


class TensorRTBackend(Backend):
    """A TensorRT / TensorRT-RTX engine on the current CUDA device.

    source: the `.engine` / `.plan` path (its sidecar `<stem>.json` must sit next to it). max_batch:
    most crops per inference, at most the engine profile's maximum (None: that maximum). threads is
    accepted for the common backend signature and unused. cuda_graphs: capture one graph per batch
    bucket after warm-up. device: CUDA device index (None: CuPy's current device). io: not accepted (the
    engine describes itself).
    """

    name = "tensorrt"
    device = "cuda"

    def __init__(self, source, *, max_batch: int | None = None, threads: int | None = None, io=None,
                 cuda_graphs: bool = True, device: int | None = None):
        refused_io(io, source)
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
        self.io = _engine_io(self.trt, self.engine, sidecar)
        profile_max = _profile_max_batch(self.engine, self.io)
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

    def _run(self, inputs, count: int) -> dict:
        """Runs on the caller's current CuPy stream (on an internal stream, ordered with events, when that
        is an implicit default stream). The outputs are views of buffers reused by the next call on the
        same stream."""
        cp = self._cp
        inputs = {name: array if isinstance(array, cp.ndarray) else cp.asarray(array) for name, array in inputs.items()}
        return result_on_explicit_stream(cp, self._own_stream,
                                         lambda stream: self._execution_for(stream).run(inputs, count))

    def input_buffer(self, name: str):
        """The engine's (max_batch, *item shape) CuPy buffer of input `name` for the current stream, in its
        dtype: a crop stage writing here saves `run` its copy."""
        caller = execution_stream(self._cp)
        stream = caller if caller.ptr not in IMPLICIT_STREAM_HANDLES else self._own_stream
        return self._execution_for(stream).inputs[self.io.input(name).name]

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


def _engine_io(trt, engine, sidecar: EngineSidecar) -> ModelIO:
    """The engine's I/O tensors (names, numpy dtypes, shapes with -1 for the batch), checked against the
    sidecar's record of the same build."""
    specs = {True: [], False: []}
    for index in range(engine.num_io_tensors):
        name = engine.get_tensor_name(index)
        spec = TensorSpec.of(name, np.dtype(trt.nptype(engine.get_tensor_dtype(name))).name,
                             tuple(engine.get_tensor_shape(name)))
        specs[engine.get_tensor_mode(name) == trt.TensorIOMode.INPUT].append(spec)
    io = ModelIO(tuple(specs[True]), tuple(specs[False]))
    if io.input_names != sidecar.io.input_names or io.output_names != sidecar.io.output_names:
        raise EngineLoadError(f"the engine's tensors {list(io.input_names)} -> {list(io.output_names)} are not "
                              f"those its sidecar records; rebuild the engine and its sidecar together")
    for spec in io.outputs:
        if any(d < 0 for d in spec.item_shape):
            raise EngineLoadError(f"output {spec.describe()} has a data-dependent shape, which this runtime "
                                  "does not allocate; export the model with fixed output sizes")
    return io


def _profile_max_batch(engine, io: ModelIO) -> int:
    """The largest batch profile 0 accepts for every input tensor."""
    return min(int(engine.get_tensor_profile_shape(name, _PROFILE)[2][_BATCH_AXIS]) for name in io.input_names)
