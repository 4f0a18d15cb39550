"""ONNX export, FP16 conversion, INT8/FP8 quantization and accuracy reports (needs torch, onnx, modelopt).

Heavy libraries load inside the functions; importing this package needs only numpy.
"""

from .accuracy import AccuracyReport
from .onnx_export import DEFAULT_OPSET, export_onnx
from .pipeline import PRECISIONS, ExportResult, export_precision

__all__ = ["DEFAULT_OPSET", "PRECISIONS", "AccuracyReport", "ExportResult", "export_onnx", "export_precision"]
