"""Person detection: a detector ONNX or engine (YOLO raw, YOLO end-to-end, DETR layouts) -> boxes and scores.

Runs on the same model-agnostic backends as the pose model (`runtime.backends`); pre- and post-processing run
on the backend's device (numpy, or CuPy on the GPU).
"""

from .detector import STAGES, Detections, PersonDetector

__all__ = ["STAGES", "Detections", "PersonDetector"]
