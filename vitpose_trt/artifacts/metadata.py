"""`ArtifactMetadata`: what travels with every model file (ONNX `metadata_props`, engine sidecar JSON).

Export writes it, the engine builder copies it into the sidecar, the runtime configures a task from it:
this module is the only place its keys are spelled. Schema 2 (this version) names the task ("pose",
"detector") and keeps each task's settings in a typed section; schema-1 files (vitpose-trt 0.1.0: pose
only, loose `pipeline` and `extra` dicts) are read and converted. Newer schemas are refused.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from dataclasses import dataclass, field

from ..errors import EngineLoadError
from ..keypoints import KeypointSet
from ..specs import ModelSpec
from .detector_settings import DetectorSettings
from .pose_settings import PoseSettings
from .provenance import Provenance

#: Bumped when a field changes meaning; readers refuse newer schemas.
SCHEMA_VERSION = 2
#: The first schema, written by vitpose-trt 0.1.0.
SCHEMA_1 = 1
POSE_TASK, DETECTOR_TASK = "pose", "detector"
TASKS = (POSE_TASK, DETECTOR_TASK)
#: Who a model file is for: TensorRT (every engine's source), ONNX Runtime on CPUs (vitpose-export
#: --target onnxruntime-cpu: dynamic int8, which TensorRT cannot build), or OpenVINO on CPUs (--target
#: openvino: an NNCF int8 IR).
TENSORRT_TARGET, ONNXRUNTIME_CPU_TARGET, OPENVINO_TARGET = "tensorrt", "onnxruntime-cpu", "openvino"
TARGETS = (TENSORRT_TARGET, ONNXRUNTIME_CPU_TARGET, OPENVINO_TARGET)
#: Model name of a file that carries no metadata of ours.
UNKNOWN_MODEL = "unknown"


@dataclass(frozen=True)
class ArtifactMetadata:
    """What a runtime needs to know about a model file, independent of the file's format.

    task: "pose" (then `pose` is set) or "detector" (then `detector` is). model: the architecture's name (a
    detector's file stem). precision: "fp32", "fp16", "int8", "fp8" (a backend that computes a file in another
    precision says so in its copy: torch-cuda "fp16", openvino "bf16"). target: who the file is for (`TARGETS`).
    provenance: how it was made.
    """

    task: str
    model: str
    precision: str = "fp32"
    target: str = TENSORRT_TARGET
    pose: PoseSettings | None = None
    detector: DetectorSettings | None = None
    provenance: Provenance = field(default_factory=Provenance)
    schema: int = SCHEMA_VERSION

    def __post_init__(self) -> None:
        if self.task not in TASKS:
            raise EngineLoadError(f"unknown task {self.task!r} in metadata; this vitpose-trt knows {', '.join(TASKS)}")
        if self.target not in TARGETS:
            raise EngineLoadError(f"unknown target {self.target!r} in metadata; valid: {', '.join(TARGETS)}")
        if self.task == POSE_TASK and self.pose is None:
            raise EngineLoadError("pose metadata without its pose settings")
        if self.task == DETECTOR_TASK and self.detector is None:
            raise EngineLoadError("detector metadata without its detector settings")

    @classmethod
    def for_pose_model(cls, spec: ModelSpec | None, keypoints: KeypointSet, precision: str = "fp32",
                       model: str | None = None) -> ArtifactMetadata:
        """Metadata of a ViTPose with architecture `spec` and the official pipeline of `keypoints`."""
        name = model or (spec.name if spec is not None else UNKNOWN_MODEL)
        return cls(task=POSE_TASK, model=name, precision=precision, pose=PoseSettings.official(keypoints, spec))

    def converted(self, precision: str, provenance: Provenance, target: str | None = None) -> ArtifactMetadata:
        """A copy for a file converted to `precision` (for `target`, default: this one's) with `provenance`."""
        return dataclasses.replace(self, precision=precision, provenance=provenance,
                                   target=self.target if target is None else target)

    def task_tensors(self) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """(input names, output names) the task reads and writes: the model must have exactly those inputs,
        and these outputs among its own."""
        if self.pose is not None:
            return (self.pose.input_name,), (self.pose.output_name,)
        return (self.detector.input_name,), self.detector.output_names

    def to_dict(self) -> dict:
        data = {"schema": self.schema, "task": self.task, "model": self.model, "precision": self.precision,
                "target": self.target, "provenance": self.provenance.to_dict()}
        if self.pose is not None:
            data["pose"] = self.pose.to_dict()
        if self.detector is not None:
            data["detector"] = self.detector.to_dict()
        return data

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_dict(cls, data: Mapping, source: str = "metadata") -> ArtifactMetadata:
        """Parse schema 1 or 2; raise `EngineLoadError` naming `source` when it doesn't fit."""
        if not isinstance(data, Mapping):
            raise EngineLoadError(f"{source}: metadata is not a JSON object")
        schema = data.get("schema", SCHEMA_1)
        if not isinstance(schema, int) or schema > SCHEMA_VERSION:
            raise EngineLoadError(f"{source}: metadata schema {schema!r} is newer than this vitpose-trt reads "
                                  f"(<= {SCHEMA_VERSION}); upgrade vitpose-trt")
        try:
            return _from_schema_1(data) if schema == SCHEMA_1 else _from_schema_2(data)
        except (TypeError, KeyError, ValueError) as exc:
            raise EngineLoadError(f"{source}: metadata is incomplete or malformed ({exc!r})") from exc
        except EngineLoadError as exc:
            raise EngineLoadError(f"{source}: {exc}") from exc

    @classmethod
    def from_json(cls, text: str, source: str = "metadata") -> ArtifactMetadata:
        return cls.from_dict(parsed_json(text, source, "metadata"), source)


def _from_schema_2(data: Mapping) -> ArtifactMetadata:
    pose, detector = data.get("pose"), data.get("detector")
    return ArtifactMetadata(
        task=str(data["task"]), model=str(data["model"]), precision=str(data["precision"]),
        target=str(data["target"]), pose=None if pose is None else PoseSettings.from_dict(pose),
        detector=None if detector is None else DetectorSettings.from_dict(detector),
        provenance=Provenance.from_dict(data.get("provenance") or {}), schema=SCHEMA_VERSION,
    )


def _from_schema_1(data: Mapping) -> ArtifactMetadata:
    """Schema 1 (pose only): sizes, names and normalisation at the top level, the keypoint set's pipeline
    in `pipeline`, the architecture in `spec`, target and recipe details in `extra`."""
    extra = dict(data.get("extra") or {})
    pose = {**data, **dict(data.get("pipeline") or {}), "keypoint_set": data["keypoint_set"],
            "spec": data.get("spec") or None}
    return ArtifactMetadata(
        task=POSE_TASK, model=str(data["model"]), precision=str(data.get("precision", "fp32")),
        target=str(extra.get("target", TENSORRT_TARGET)), pose=PoseSettings.from_dict(pose),
        provenance=Provenance.from_dict(extra), schema=SCHEMA_VERSION,
    )


def parsed_json(text: str, source: str, what: str):
    """`json.loads(text)`, or `EngineLoadError` saying that `what` in `source` is not valid JSON."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise EngineLoadError(f"{source}: {what} is not valid JSON ({exc})") from exc
