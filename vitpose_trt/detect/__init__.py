"""Person detection: a detector ONNX or engine (YOLO raw, YOLO end-to-end, DETR layouts) -> boxes and scores.

`detector.PersonDetector` runs on the same model-agnostic backends as the pose model (`runtime.backends`).
The detection math (`layouts`, `fitting`, `decode`, `nms`) needs only numpy and `artifacts`, so the export
stage uses it for the accuracy reports of converted detectors without importing the runtime; this package
file therefore imports nothing.
"""
