"""ONNX Runtime backend: an `.onnx` model on the CPU (or CUDA when onnxruntime-gpu is installed).

The session is tuned for throughput on a CPU: all graph optimisations, sequential execution (the graph
is one chain; parallel execution only adds scheduling), `threads` intra-op threads (ONNX Runtime's
default: one per physical core). Inputs and outputs are numpy arrays either way.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np

from ...dependencies import import_optional
from ...errors import ConfigError, EngineLoadError
from ...keypoints import keypoint_set_by_count
from ...metadata import ONNX_METADATA_KEY, ArtifactMetadata
from ...specs import HEATMAP_HEIGHT, HEATMAP_WIDTH, INPUT_HEIGHT, INPUT_WIDTH
from .base import DEFAULT_MAX_BATCH, Backend, checked_max_batch, checked_threads

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


def metadata_from_session(session, source: str, num_keypoints: int) -> ArtifactMetadata:
    """The `ArtifactMetadata` stored in the model's metadata_props, or one inferred from K (warns)."""
    props = session.get_modelmeta().custom_metadata_map
    if ONNX_METADATA_KEY in props:
        return ArtifactMetadata.from_json(props[ONNX_METADATA_KEY], source)
    keypoints = keypoint_set_by_count(num_keypoints)
    warnings.warn(
        f"{source} has no vitpose-trt metadata (not exported by vitpose-export): assuming a "
        f"{keypoints.name} head with its official pipeline settings",
        stacklevel=4,
    )
    return ArtifactMetadata(model="unknown", keypoint_set=keypoints.name, num_keypoints=num_keypoints,
                            pipeline=keypoints.pipeline_settings())


class OnnxRuntimeBackend(Backend):
    """An ONNX Runtime session of a ViTPose ONNX file: numpy crops in, numpy heatmaps out."""

    name = "onnxruntime"
    device = "cpu"
    #: ONNX Runtime's `InferenceSession.run` may be called from several threads at once.
    thread_safe = True

    def __init__(self, source, *, max_batch: int | None = None, threads: int | None = None):
        ort = import_optional("onnxruntime", "the ONNX Runtime backend")
        path = Path(source)
        if not path.is_file():
            raise EngineLoadError(f"{path}: no such ONNX file")
        try:
            self.session = ort.InferenceSession(
                str(path), sess_options=session_options(ort, checked_threads(threads)),
                providers=execution_providers(ort),
            )
        except _load_errors(ort) as exc:
            raise EngineLoadError(f"{path}: ONNX Runtime cannot load it (corrupt, truncated or missing its "
                                  f"external data file?): {exc}; re-export it with vitpose-export") from exc
        (model_input,), model_outputs = self.session.get_inputs(), self.session.get_outputs()
        self.input_name, self.output_name = model_input.name, model_outputs[0].name
        _check_io_shapes(model_input.shape, model_outputs[0].shape, path)
        self.metadata = metadata_from_session(self.session, str(path), model_outputs[0].shape[1])
        if self.metadata.num_keypoints != model_outputs[0].shape[1]:
            raise EngineLoadError(f"{path}: metadata says {self.metadata.num_keypoints} keypoints, the graph "
                                  f"outputs {model_outputs[0].shape[1]}")
        self.static_batch = model_input.shape[0] if isinstance(model_input.shape[0], int) else None
        self.max_batch = _max_batch(max_batch, self.static_batch, path)
        self.providers = self.session.get_providers()

    def infer(self, crops: np.ndarray) -> np.ndarray:
        """(N, K, 64, 48) float32 heatmaps of (N, 3, 256, 192) float32 crops, N <= max_batch."""
        count = len(crops)
        if self.static_batch is not None and count < self.static_batch:
            # A fixed-batch graph: fill the batch with zeros and drop their heatmaps.
            padded = np.zeros((self.static_batch, *crops.shape[1:]), np.float32)
            padded[:count] = crops
            crops = padded
        heatmaps = self.session.run([self.output_name], {self.input_name: np.ascontiguousarray(crops)})[0]
        return heatmaps[:count]


def _check_io_shapes(input_shape, output_shape, path: Path) -> None:
    expected_in = (3, INPUT_HEIGHT, INPUT_WIDTH)
    expected_out = (HEATMAP_HEIGHT, HEATMAP_WIDTH)
    if len(input_shape) != 4 or tuple(input_shape[1:]) != expected_in:
        raise EngineLoadError(f"{path}: input shape {input_shape} is not (N, 3, {INPUT_HEIGHT}, {INPUT_WIDTH})")
    if len(output_shape) != 4 or not isinstance(output_shape[1], int) or tuple(output_shape[2:]) != expected_out:
        raise EngineLoadError(f"{path}: output shape {output_shape} is not (N, K, {HEATMAP_HEIGHT}, {HEATMAP_WIDTH})")


def _max_batch(requested: int | None, static_batch: int | None, path: Path) -> int:
    if static_batch is None:
        return checked_max_batch(requested, DEFAULT_MAX_BATCH)
    if requested is not None and checked_max_batch(requested) > static_batch:
        raise ConfigError(f"{path} has a fixed batch of {static_batch}; max_batch={requested} is larger")
    return checked_max_batch(requested, static_batch)
