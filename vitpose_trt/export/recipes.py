"""Which recipe makes each export file, and the cache rule built on it: is a file on disk the current one?

A file is current when it exists, its report sits beside it, and its metadata says it is the precision
and target asked for, made by the recipe this version uses (the provenance field that names the recipe).
`export_precision(..., reuse_current=True)` and the benchmark's artifact cache both decide by
`is_current`, so a cached file made by an older recipe, or a damaged one, is exported again.
"""

from __future__ import annotations

from pathlib import Path

from ..artifacts.metadata import ONNXRUNTIME_CPU_TARGET, OPENVINO_TARGET, TENSORRT_TARGET
from ..artifacts.onnx_metadata import metadata_from_onnx
from ..artifacts.openvino_metadata import OPENVINO_SUFFIX, metadata_from_openvino
from ..errors import ConfigError, EngineLoadError

#: The recipes' names, as each records them in `Provenance`.
EXPORTER = "torch.onnx legacy (dynamo=False)"
FP16_CONVERTER = "modelopt.onnx.autocast"
MODELOPT_QUANTIZER = "modelopt.onnx.quantization"
CPU_INT8_QUANTIZER = "onnxruntime.quantization.quantize_dynamic"
NNCF_QUANTIZER = "nncf.quantize (OpenVINO)"
REPORT_SUFFIX = ".report.json"


def recipe_of(precision: str, target: str = TENSORRT_TARGET) -> dict[str, str]:
    """The provenance field and value that name the recipe of `precision` for `target`."""
    if precision == "fp32":
        return {"exporter": EXPORTER}
    if target == ONNXRUNTIME_CPU_TARGET:
        return {"quantizer": CPU_INT8_QUANTIZER}
    if target == OPENVINO_TARGET:
        return {"quantizer": NNCF_QUANTIZER}
    if precision in ("int8", "fp8"):
        return {"quantizer": MODELOPT_QUANTIZER}
    return {"converter": FP16_CONVERTER}


def report_path_for(onnx_path: str | Path) -> Path:
    """`DIR/<stem>.report.json` beside `DIR/<stem>.onnx` (or an OpenVINO IR's `DIR/<stem>.xml`)."""
    onnx_path = Path(onnx_path)
    return onnx_path.with_name(onnx_path.stem + REPORT_SUFFIX)


def is_current(path: str | Path, precision: str, target: str = TENSORRT_TARGET) -> bool:
    """Whether `path` is a readable ONNX file (or OpenVINO IR) with its report, made by this version's recipe
    of `precision` for `target` (fp32 files serve every target)."""
    path = Path(path)
    if not path.is_file() or not report_path_for(path).is_file():
        return False
    try:
        metadata = metadata_from_openvino(path) if path.suffix == OPENVINO_SUFFIX else metadata_from_onnx(path)
    except (EngineLoadError, ConfigError):  # unreadable, or no (valid) vitpose-trt metadata
        return False
    if metadata.precision != precision or (precision != "fp32" and metadata.target != target):
        return False
    provenance = metadata.provenance
    return all(getattr(provenance, key) == value for key, value in recipe_of(precision, target).items())
