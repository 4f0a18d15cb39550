"""ONNX export, FP16 conversion, INT8/FP8 quantization and accuracy reports (needs torch, onnx)."""
