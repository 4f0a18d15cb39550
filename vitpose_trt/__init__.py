"""vitpose-trt: ViTPose from PyTorch to ONNX, TensorRT / TensorRT-RTX engines and a batched runtime.

Public API re-exports only; heavy libraries (torch, onnx, tensorrt, cupy) load when a feature needs them.
"""

from ._version import __version__
from .apps.one_euro import OneEuroFilter, PoseSmoother
from .apps.person_tracking import PersonTracker, TrackedPersons
from .apps.top_down import TopDown
from .apps.video_poses import FramePoses, VideoPoses
from .detect.detector import Detections, PersonDetector
from .errors import (
    AccuracyError,
    CalibrationError,
    CheckpointError,
    ConfigError,
    DeviceError,
    EngineBuildError,
    EngineLoadError,
    ExportError,
    InferenceError,
    InputError,
    MissingDependencyError,
    UserError,
    VitPoseError,
)
from .keypoints import KEYPOINT_SETS, KeypointSet
from .model.loading import load_model
from .runtime import PoseEstimator, Poses
from .specs import MODELS, ModelSpec

__all__ = [
    "KEYPOINT_SETS",
    "MODELS",
    "AccuracyError",
    "CalibrationError",
    "CheckpointError",
    "Detections",
    "ConfigError",
    "DeviceError",
    "EngineBuildError",
    "EngineLoadError",
    "ExportError",
    "FramePoses",
    "InferenceError",
    "InputError",
    "KeypointSet",
    "MissingDependencyError",
    "OneEuroFilter",
    "PersonDetector",
    "PersonTracker",
    "ModelSpec",
    "PoseEstimator",
    "PoseSmoother",
    "Poses",
    "TopDown",
    "TrackedPersons",
    "UserError",
    "VideoPoses",
    "VitPoseError",
    "__version__",
    "load_model",
]
