"""TensorRT / TensorRT-RTX engine builder and metadata sidecars (needs tensorrt or tensorrt_rtx)."""
