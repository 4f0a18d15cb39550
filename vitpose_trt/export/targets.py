"""Who runs an exported file, what each target has a recipe for, and the names of the files it gets.

"tensorrt" (default): fp16 / int8 / fp8 ONNX as TensorRT runs them fastest. "onnxruntime-cpu": ONNX
Runtime's dynamic int8 (`cpu_quantization`), `DIR/<model>-int8-cpu.onnx`. "openvino": NNCF's int8 as an
OpenVINO IR (`openvino_quantization`), `DIR/<model>-int8-openvino.xml` + `.bin`, and bf16, which needs no
file of its own (OpenVINO computes the fp32 ONNX in bf16 when asked to), only its accuracy report
`DIR/<model>-bf16-openvino.report.json`. fp32 is the same `DIR/<model>.onnx` for every target.
"""

from __future__ import annotations

from pathlib import Path

from ..artifacts.metadata import ONNXRUNTIME_CPU_TARGET, OPENVINO_TARGET, TENSORRT_TARGET
from ..artifacts.onnx_metadata import ONNX_SUFFIX
from ..artifacts.openvino_metadata import OPENVINO_SUFFIX
from ..errors import ConfigError
from .recipes import REPORT_SUFFIX, report_path_for

PRECISIONS = ("fp32", "fp16", "int8", "fp8", "bf16")
DEFAULT_TARGET = TENSORRT_TARGET
TARGETS = (DEFAULT_TARGET, ONNXRUNTIME_CPU_TARGET, OPENVINO_TARGET)
#: Precisions each target has a recipe for (fp32 is the same file for every target).
TARGET_PRECISIONS = {DEFAULT_TARGET: ("fp32", "fp16", "int8", "fp8"), ONNXRUNTIME_CPU_TARGET: ("fp32", "int8"),
                     OPENVINO_TARGET: ("fp32", "bf16", "int8")}
#: Why a target lacks the other precisions (for the refusal's message).
_MISSING_RECIPE_REASON = {
    DEFAULT_TARGET: "bf16 is OpenVINO's CPU precision; TensorRT's 16-bit float is fp16",
    ONNXRUNTIME_CPU_TARGET: "ONNX Runtime's CPU provider runs fp16/fp8 slower than fp32",
    OPENVINO_TARGET: "OpenVINO's CPU plugin computes 16-bit floats as bf16, and has no fp8",
}
#: Precisions a target computes at run time from the fp32 file: no file, only a report.
RUN_TIME_PRECISIONS = {OPENVINO_TARGET: ("bf16",)}
#: File name suffix after the precision, per target.
_TARGET_SUFFIX = {DEFAULT_TARGET: "", ONNXRUNTIME_CPU_TARGET: "-cpu", OPENVINO_TARGET: "-openvino"}
#: File format of each target's converted files.
_TARGET_FORMAT = {DEFAULT_TARGET: ONNX_SUFFIX, ONNXRUNTIME_CPU_TARGET: ONNX_SUFFIX, OPENVINO_TARGET: OPENVINO_SUFFIX}


def checked_target(target: str, precision: str) -> None:
    """Raise `ConfigError` unless `target` is known and has a recipe for `precision`."""
    if target not in TARGETS:
        raise ConfigError(f"unknown target {target!r}; valid: {', '.join(TARGETS)}")
    if precision not in TARGET_PRECISIONS[target]:
        raise ConfigError(f"target {target} has no {precision} recipe ({_MISSING_RECIPE_REASON[target]}); use "
                          f"{' or '.join(TARGET_PRECISIONS[target])}")


def is_run_time_precision(precision: str, target: str) -> bool:
    """Whether `target` computes `precision` from the fp32 file at run time (no converted file)."""
    return precision in RUN_TIME_PRECISIONS.get(target, ())


def needs_calibration(precision: str, target: str = DEFAULT_TARGET) -> bool:
    """Whether converting to `precision` for `target` uses calibration crops (fp32, run-time precisions
    and the ONNX Runtime CPU int8, whose activations are quantized at run time, do not)."""
    return precision != "fp32" and target != ONNXRUNTIME_CPU_TARGET and not is_run_time_precision(precision, target)


def onnx_path_for(output_dir: str | Path, model_name: str, precision: str, target: str = DEFAULT_TARGET) -> Path:
    """The model file of `precision` for `target`: `DIR/<model>.onnx` for fp32 and run-time precisions (the
    fp32 file runs), `DIR/<model>-<precision>.onnx` for TensorRT, `DIR/<model>-int8-cpu.onnx` for ONNX Runtime
    on CPUs, `DIR/<model>-int8-openvino.xml` for OpenVINO (model: `pipeline.artifact_name`)."""
    if precision == "fp32" or is_run_time_precision(precision, target):
        return Path(output_dir) / f"{model_name}{ONNX_SUFFIX}"
    return Path(output_dir) / f"{model_name}-{precision}{_TARGET_SUFFIX[target]}{_TARGET_FORMAT[target]}"


def report_path_of(output_dir: str | Path, model_name: str, precision: str, target: str = DEFAULT_TARGET) -> Path:
    """The accuracy report of `precision` for `target`: beside its file (`recipes.report_path_for`), or for a
    run-time precision `DIR/<model>-<precision>-<target suffix>.report.json`."""
    if is_run_time_precision(precision, target):
        return Path(output_dir) / f"{model_name}-{precision}{_TARGET_SUFFIX[target]}{REPORT_SUFFIX}"
    return report_path_for(onnx_path_for(output_dir, model_name, precision, target))
