"""The one exception hierarchy of vitpose-trt.

Every error the toolkit raises on purpose is a `VitPoseError`. Errors caused by what a user passed in
(names, options, images, boxes) also subclass `ValueError`, so generic callers can catch them as such.
The CLIs turn every `UserError` into exit code 2 and one line of text.
"""

from __future__ import annotations


class VitPoseError(Exception):
    """Base of every error raised by vitpose-trt."""


class UserError(VitPoseError):
    """An error a user can fix by changing what they passed in; CLIs exit 2 on these."""


class ConfigError(UserError, ValueError):
    """An unknown model, keypoint set, precision or backend name, or an inconsistent option."""


class InputError(UserError, ValueError):
    """An image, box array or other runtime input that cannot be processed."""


class CheckpointError(UserError):
    """A checkpoint that cannot be read, or whose tensors do not fit any known layout or variant."""


class MissingDependencyError(UserError, ImportError):
    """An optional library needed by the requested feature is not installed."""


class ExportError(VitPoseError):
    """ONNX export, conversion or quantization failed."""


class AccuracyError(ExportError):
    """An exported or converted model differs from the PyTorch reference beyond its tolerance."""


class CalibrationError(UserError):
    """Calibration data is missing, empty or unreadable."""


class EngineBuildError(VitPoseError):
    """The TensorRT / TensorRT-RTX builder or ONNX parser failed; the message quotes their log."""


class EngineLoadError(UserError):
    """An engine, ONNX file or metadata sidecar that cannot be used here (corrupt, wrong library/GPU)."""


class InferenceError(VitPoseError):
    """A backend returned unusable output (NaN or infinite heatmaps): the model or engine is numerically broken."""


class DeviceError(UserError):
    """A GPU feature was requested where no usable CUDA device is available (the fix is the user's: run a CPU
    model or backend, or move to a machine with a GPU; CLIs exit 2, as for a file unusable here)."""
