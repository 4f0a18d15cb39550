"""ONNX Runtime backend: an `.onnx` model on the CPU (or CUDA when onnxruntime-gpu is installed).

The session is tuned for throughput on a CPU: all graph optimisations, sequential execution (the graph
is one chain; parallel execution only adds scheduling), `threads` intra-op threads (ONNX Runtime's
default: one per physical core). Inputs and outputs are numpy arrays either way; the IO description and
the metadata come from the session (no `onnx` package needed).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from ...artifacts.io import io_of_onnxruntime_session
from ...artifacts.onnx_metadata import ONNX_SUFFIX, metadata_from_props
from ...dependencies import import_optional
from ...errors import EngineLoadError
from .base import Backend, checked_model_file, checked_threads, max_batch_for, refused_io, zero_padded

CUDA_PROVIDER = "CUDAExecutionProvider"
CPU_PROVIDER = "CPUExecutionProvider"
#: The session's own thread pool across nodes: one, since execution is sequential.
INTER_OP_THREADS = 1


def session_options(ort, threads: int | None):
    """`onnxruntime.SessionOptions` for throughput: ORT_ENABLE_ALL, sequential, `threads` intra-op threads."""
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.inter_op_num_threads = INTER_OP_THREADS
    if threads is not None:
        options.intra_op_num_threads = threads
    return options


def execution_providers(ort) -> list[str]:
    """CUDA then CPU when this onnxruntime build has the CUDA provider (onnxruntime-gpu), else CPU."""
    if CUDA_PROVIDER in ort.get_available_providers():
        return [CUDA_PROVIDER, CPU_PROVIDER]
    return [CPU_PROVIDER]


def _load_errors(ort) -> tuple[type[BaseException], ...]:
    """onnxruntime's session-creation exceptions (they derive from Exception, not RuntimeError)."""
    state = ort.capi.onnxruntime_pybind11_state
    names = ("Fail", "InvalidArgument", "InvalidGraph", "InvalidProtobuf", "NoSuchFile", "NotImplemented",
             "RuntimeException", "EPFail")
    return (RuntimeError, *(getattr(state, name) for name in names if hasattr(state, name)))


class OnnxRuntimeBackend(Backend):
    """An ONNX Runtime session of any ONNX file: numpy arrays in, numpy arrays out.

    A graph with a fixed batch is fed full batches (smaller ones are padded with zeros and the padding's
    outputs dropped).
    """

    name = "onnxruntime"
    device = "cpu"
    #: ONNX Runtime's `InferenceSession.run` may be called from several threads at once.
    thread_safe = True

    def __init__(self, source, *, max_batch: int | None = None, threads: int | None = None, io=None):
        refused_io(io, source)
        ort = import_optional("onnxruntime", "the ONNX Runtime backend")
        path = checked_model_file(source, f"the {self.name} backend", (ONNX_SUFFIX,))
        try:
            self.session = ort.InferenceSession(
                str(path), sess_options=session_options(ort, checked_threads(threads)),
                providers=execution_providers(ort),
            )
        except _load_errors(ort) as exc:
            raise EngineLoadError(f"{path}: ONNX Runtime cannot load it (corrupt, truncated or missing its "
                                  f"external data file?): {exc}; re-export it with vitpose-export") from exc
        try:
            self.io = io_of_onnxruntime_session(self.session)
        except EngineLoadError as exc:
            raise EngineLoadError(f"{path}: {exc}") from exc
        self.props = dict(self.session.get_modelmeta().custom_metadata_map)
        self.metadata = metadata_from_props(self.props, str(path))
        self.static_batch = self.io.fixed_batch
        self.max_batch = max_batch_for(max_batch, self.static_batch, path)
        self.providers = self.session.get_providers()

    def _run(self, inputs: Mapping[str, np.ndarray], count: int) -> dict[str, np.ndarray]:
        feeds = {name: np.ascontiguousarray(inputs[name]) for name in self.io.input_names}
        if self.static_batch is not None and count < self.static_batch:
            feeds = {name: zero_padded(array, self.static_batch) for name, array in feeds.items()}
        outputs = self.session.run(list(self.io.output_names), feeds)
        return {name: array[:count] for name, array in zip(self.io.output_names, outputs)}
