"""The metadata that travels with every artifact (ONNX `metadata_props`, engine sidecar JSON).

Export writes it, the engine builder copies and extends it, the runtime configures itself from it:
this module is the only place its keys are spelled. Pure data: needs only the standard library.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field

from .errors import EngineLoadError
from .keypoints import KeypointSet, keypoint_set_by_name
from .specs import (
    HEATMAP_HEIGHT,
    HEATMAP_WIDTH,
    INPUT_HEIGHT,
    INPUT_NAME,
    INPUT_WIDTH,
    OUTPUT_NAME,
    PIXEL_MEAN_RGB,
    PIXEL_STD_RGB,
    ModelSpec,
)

#: The ONNX metadata_props key holding `ArtifactMetadata.to_json()`.
ONNX_METADATA_KEY = "vitpose_trt"
#: Bumped when a field changes meaning; readers refuse newer schemas.
SCHEMA_VERSION = 1
#: Who an ONNX file is for (`ArtifactMetadata.target`): TensorRT (every engine's source), or ONNX Runtime
#: on CPUs (vitpose-export --target onnxruntime-cpu: dynamic int8, which TensorRT cannot build).
TENSORRT_TARGET, ONNXRUNTIME_CPU_TARGET = "tensorrt", "onnxruntime-cpu"


@dataclass
class ArtifactMetadata:
    """What a runtime needs to know about a model file, independent of the file's format.

    input_size / heatmap_size are (H, W); mean / std are per RGB channel on 0-255 values;
    pipeline is `KeypointSet.pipeline_settings()`.
    """

    model: str
    keypoint_set: str
    num_keypoints: int
    precision: str = "fp32"
    input_name: str = INPUT_NAME
    output_name: str = OUTPUT_NAME
    input_size: tuple[int, int] = (INPUT_HEIGHT, INPUT_WIDTH)
    heatmap_size: tuple[int, int] = (HEATMAP_HEIGHT, HEATMAP_WIDTH)
    mean: tuple[float, float, float] = PIXEL_MEAN_RGB
    std: tuple[float, float, float] = PIXEL_STD_RGB
    pipeline: dict = field(default_factory=dict)
    spec: dict = field(default_factory=dict)
    schema: int = SCHEMA_VERSION
    extra: dict = field(default_factory=dict)

    @classmethod
    def for_model(cls, spec: ModelSpec, keypoints: KeypointSet, precision: str = "fp32") -> ArtifactMetadata:
        return cls(
            model=spec.name,
            keypoint_set=keypoints.name,
            num_keypoints=keypoints.num_keypoints,
            precision=precision,
            pipeline=keypoints.pipeline_settings(),
            spec=spec.to_dict(),
        )

    @property
    def target(self) -> str:
        """Who the file is for: `extra["target"]`, or `TENSORRT_TARGET` where none is recorded (fp32, fp16)."""
        return self.extra.get("target", TENSORRT_TARGET)

    @property
    def keypoints(self) -> KeypointSet:
        return keypoint_set_by_name(self.keypoint_set)

    def to_dict(self) -> dict:
        return asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_dict(cls, data: dict, source: str = "metadata") -> ArtifactMetadata:
        """Parse a dict written by `to_dict`; raise `EngineLoadError` naming `source` when it doesn't fit."""
        if not isinstance(data, dict):
            raise EngineLoadError(f"{source}: metadata is not a JSON object")
        if data.get("schema", 0) > SCHEMA_VERSION:
            raise EngineLoadError(f"{source}: metadata schema {data['schema']} is newer than this vitpose-trt; upgrade it")
        known = set(cls.__dataclass_fields__)
        try:
            values = {k: data[k] for k in known if k in data}
            for key in ("input_size", "heatmap_size", "mean", "std"):
                if key in values:
                    values[key] = tuple(values[key])
            return cls(**values)
        except (TypeError, KeyError) as exc:
            raise EngineLoadError(f"{source}: metadata is incomplete or malformed ({exc})") from exc

    @classmethod
    def from_json(cls, text: str, source: str = "metadata") -> ArtifactMetadata:
        return cls.from_dict(parsed_json(text, source, "metadata"), source)


def parsed_json(text: str, source: str, what: str):
    """`json.loads(text)`, or `EngineLoadError` saying that `what` in `source` is not valid JSON."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise EngineLoadError(f"{source}: {what} is not valid JSON ({exc})") from exc
