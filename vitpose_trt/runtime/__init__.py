"""PoseEstimator and its backends (onnxruntime, openvino, torch, torch-cuda, tensorrt); each backend loads its
library lazily."""

from .estimator import PoseEstimator
from .poses import Poses

__all__ = ["PoseEstimator", "Poses"]
