"""What makes a loaded model a pose model: its metadata's pose settings, checked against the backend's IO.

A file exported by vitpose-export says everything (task "pose", keypoint set, sizes, tensor names); an
ONNX from elsewhere with one input and one (N, K, 64, 48) output is taken as a ViTPose head for the first
keypoint set with K keypoints and its official pipeline, with a warning.
"""

from __future__ import annotations

import dataclasses
import warnings

from ..artifacts.io import ModelIO
from ..artifacts.metadata import POSE_TASK, UNKNOWN_MODEL, ArtifactMetadata
from ..artifacts.pose_settings import PoseSettings
from ..errors import ConfigError, EngineLoadError
from ..keypoints import keypoint_set_by_count
from ..specs import HEATMAP_HEIGHT, HEATMAP_WIDTH, INPUT_HEIGHT, INPUT_WIDTH

#: The only network geometry the pose pipeline supports: (H, W) of crops and heatmaps.
SUPPORTED_SIZES = ((INPUT_HEIGHT, INPUT_WIDTH), (HEATMAP_HEIGHT, HEATMAP_WIDTH))
#: Heatmaps are (N, K, h, w).
_HEATMAP_NDIM = 4


def pose_metadata_for(backend) -> ArtifactMetadata:
    """The pose metadata of a loaded backend: its artifact's, or one inferred from its IO (warns).

    Raises `ConfigError` for an artifact of another task, `EngineLoadError` when the model's tensors are
    not those of a pose network.
    """
    metadata = backend.metadata
    if metadata is None:
        metadata = _inferred_pose_metadata(backend.io, repr(backend))
    if metadata.task != POSE_TASK:
        raise ConfigError(f"this is a {metadata.task} model ({metadata.model}), not a pose model; "
                          f"PoseEstimator runs pose models")
    check_pose_io(backend.io, metadata)
    return metadata


def _inferred_pose_metadata(io: ModelIO, source: str) -> ArtifactMetadata:
    if len(io.inputs) != 1 or len(io.outputs) != 1 or len(io.outputs[0].shape) != _HEATMAP_NDIM:
        raise EngineLoadError(f"{source} has no vitpose-trt metadata and is not shaped like a pose network "
                              f"(one crops input, one (N, K, h, w) heatmaps output): {_described(io)}")
    keypoints = keypoint_set_by_count(io.outputs[0].shape[1])
    warnings.warn(
        f"{source} has no vitpose-trt metadata (not exported by vitpose-export): assuming a "
        f"{keypoints.name} head with its official pipeline settings",
        stacklevel=4,
    )
    pose = dataclasses.replace(PoseSettings.official(keypoints), input_name=io.inputs[0].name,
                               output_name=io.outputs[0].name)
    return ArtifactMetadata(task=POSE_TASK, model=UNKNOWN_MODEL, pose=pose)


def check_pose_io(io: ModelIO, metadata: ArtifactMetadata) -> None:
    """Raise unless `io` has the crops input and heatmaps output `metadata`'s pose settings name and size."""
    pose = metadata.pose
    if (tuple(pose.input_size), tuple(pose.heatmap_size)) != SUPPORTED_SIZES:
        raise ConfigError(f"this runtime supports {INPUT_HEIGHT}x{INPUT_WIDTH} inputs and {HEATMAP_HEIGHT}x"
                          f"{HEATMAP_WIDTH} heatmaps; the model has {pose.input_size} / {pose.heatmap_size}")
    try:
        crops, heatmaps = io.input(pose.input_name), io.output(pose.output_name)
    except EngineLoadError as exc:
        raise EngineLoadError(f"the model's tensors do not match its pose metadata: {exc}") from None
    expected_in, expected_out = pose.model_io().inputs[0], pose.model_io().outputs[0]
    if len(io.inputs) != 1 or crops.item_shape != expected_in.item_shape:
        raise EngineLoadError(f"input shape {crops.shape} is not (N, {', '.join(map(str, expected_in.item_shape))})"
                              f" or the model has other inputs: {_described(io)}")
    if heatmaps.item_shape != expected_out.item_shape:
        metadata_k, graph_k = pose.num_keypoints, heatmaps.item_shape[0] if heatmaps.item_shape else None
        if graph_k != metadata_k and len(heatmaps.item_shape) == len(expected_out.item_shape):
            raise EngineLoadError(f"metadata says {metadata_k} keypoints, the graph outputs {graph_k}")
        raise EngineLoadError(f"output shape {heatmaps.shape} is not (N, {', '.join(map(str, expected_out.item_shape))})")


def _described(io: ModelIO) -> str:
    return (f"inputs {', '.join(t.describe() for t in io.inputs)}; "
            f"outputs {', '.join(t.describe() for t in io.outputs)}")
