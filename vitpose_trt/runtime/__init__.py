"""PoseEstimator and its backends (onnxruntime, torch, tensorrt); each backend loads its library lazily."""
