"""Model artifacts and what they carry: metadata (task, precision, target, task settings), IO description,
the ONNX metadata entry and the engine sidecar. Pure data; `onnx` loads only to read an ONNX file."""

from .build_options import BuildOptions, parse_batch
from .detector_settings import DetectorSettings
from .io import DYNAMIC, ModelIO, TensorSpec
from .metadata import (
    DETECTOR_TASK,
    ONNXRUNTIME_CPU_TARGET,
    OPENVINO_TARGET,
    POSE_TASK,
    SCHEMA_VERSION,
    TASKS,
    TENSORRT_TARGET,
    ArtifactMetadata,
)
from .onnx_metadata import (
    ONNX_METADATA_KEY,
    UnreadableOnnx,
    metadata_from_onnx,
    metadata_from_props,
    with_metadata,
)
from .openvino_metadata import (
    OPENVINO_SUFFIX,
    metadata_from_openvino,
    metadata_from_openvino_model,
    with_openvino_metadata,
)
from .pose_settings import PoseSettings
from .provenance import Provenance
from .sidecar import (
    ENGINE_SUFFIXES,
    EngineSidecar,
    sidecar_for_engine,
    sidecar_path_for,
)

__all__ = [
    "DETECTOR_TASK", "DYNAMIC", "ENGINE_SUFFIXES", "ONNXRUNTIME_CPU_TARGET", "ONNX_METADATA_KEY", "OPENVINO_SUFFIX",
    "OPENVINO_TARGET", "POSE_TASK",
    "SCHEMA_VERSION", "TASKS", "TENSORRT_TARGET", "ArtifactMetadata", "BuildOptions", "DetectorSettings", "EngineSidecar", "ModelIO",
    "PoseSettings", "Provenance", "TensorSpec", "UnreadableOnnx", "metadata_from_onnx", "metadata_from_openvino",
    "metadata_from_openvino_model", "metadata_from_props", "parse_batch", "sidecar_for_engine", "sidecar_path_for", "with_metadata",
    "with_openvino_metadata",
]
