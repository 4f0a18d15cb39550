"""The export stage as one call: model -> `DIR/<model>.onnx` (checked) -> the file of a precision and target.

`target` picks who runs the converted file (`targets`): "tensorrt" (default; fp16 / int8 / fp8 as TensorRT
runs them fastest, unquantized parts fp16, `DIR/<model>-<precision>.onnx`), "onnxruntime-cpu" (int8 only:
ONNX Runtime's dynamic int8, everything unquantized fp32, no calibration, no engine: `cpu_quantization`,
`DIR/<model>-int8-cpu.onnx`) or "openvino" (int8: NNCF's calibrated int8 as an OpenVINO IR,
`openvino_quantization`, `DIR/<model>-int8-openvino.xml`; bf16: no file, OpenVINO computes the fp32 ONNX
in bf16, so only its report is written).

Every file is checked against fp32 PyTorch on held-out real crops, in the runtime that will run it (ONNX
Runtime on the CPU for ONNX files, OpenVINO for IRs and bf16), and gets an accuracy report, printed and
written beside it (`DIR/<model>.report.json`, `DIR/<model>-<precision>.report.json`, ...). The fp32 file must
agree to `FP32_TOLERANCE` relative L2 (else `AccuracyError`); a converted file over its tolerance is kept,
with a printed warning.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from filelock import Timeout

from ..artifacts.metadata import OPENVINO_TARGET
from ..atomic_files import path_lock
from ..errors import AccuracyError, ConfigError
from ..openvino_cpu import REDUCED_PRECISIONS
from .accuracy import (
    FP32_TOLERANCE,
    REPORT_TOLERANCE,
    AccuracyReport,
    accuracy_report,
    heatmaps_from_file,
    heatmaps_from_torch,
)
from .calibration import (
    DEFAULT_CALIB_COUNT,
    HELD_OUT_IMAGES,
    SAMPLE_CALIBRATION_IMAGES,
    held_out_crops,
    sample_crops,
)
from .cpu_quantization import CPU_TARGET, cpu_int8_onnx_from_fp32
from .files import EXTERNAL_DATA_THRESHOLD_BYTES, write_json_atomic
from .fp16 import DEFAULT_FP16_CALIB_COUNT, fp16_onnx_from_fp32
from .onnx_export import DEFAULT_OPSET, export_onnx
from .openvino_quantization import openvino_int8_from_fp32
from .quantization import QUANTIZED_PRECISIONS, quantized_onnx_from_fp32
from .recipes import is_current, report_path_for
from .targets import (  # noqa: F401  (TARGET_PRECISIONS, onnx_path_for: re-exported, callers import them from here)
    DEFAULT_TARGET,
    PRECISIONS,
    TARGET_PRECISIONS,
    TARGETS,
    checked_target,
    is_run_time_precision,
    needs_calibration,
    onnx_path_for,
    report_path_of,
)

_RANDOM_WEIGHTS_NOTE = "random weights: heatmaps are nearly flat, so keypoint agreement means little"


def default_calib_count(precision: str) -> int:
    """Calibration crops used when the caller gives none: fp16 only needs activation ranges."""
    return DEFAULT_FP16_CALIB_COUNT if precision == "fp16" else DEFAULT_CALIB_COUNT


def default_calibration_crops(precision: str, target: str, warp: str) -> np.ndarray | None:
    """(N, 3, 256, 192) float32: the first `default_calib_count(precision)` crops of scikit-image's
    calibration photos, cut with `warp` ("udp" or "classic"); None where `needs_calibration` says none."""
    if not needs_calibration(precision, target):
        return None
    return sample_crops(SAMPLE_CALIBRATION_IMAGES, warp, default_calib_count(precision))


def artifact_name(model) -> str:
    """File name stem of a model's artifacts: the spec name, plus the keypoint set when it is not the
    spec's default (a ViTPose++ checkpoint exported for "aic" -> "vitpose-plus-b-aic")."""
    if model.keypoints.name == model.spec.default_keypoints:
        return model.spec.name
    return f"{model.spec.name}-{model.keypoints.name}"


@dataclass
class ExportResult:
    """What the export stage wrote: the fp32 file and its check, the requested precision's file and report
    (for fp32 these are the fp32 file and check)."""

    precision: str
    fp32_onnx: Path
    onnx: Path
    fp32_check: AccuracyReport
    fp32_report_path: Path
    report: AccuracyReport
    report_path: Path


@dataclass
class _Judge:
    """Compares model files with the fp32 PyTorch heatmaps on held-out crops and writes their reports."""

    crops: np.ndarray
    reference: np.ndarray
    model_name: str
    random_weights: bool

    def report(self, path: Path, precision: str, tolerance: float, report_path: Path,
               target: str = DEFAULT_TARGET) -> tuple[AccuracyReport, Path]:
        """Run `path` as `target`'s runtime runs it (OpenVINO for its files and bf16, else ONNX Runtime)."""
        runtime = "openvino" if target == OPENVINO_TARGET and precision != "fp32" else "onnxruntime"
        computed_in = precision if is_run_time_precision(precision, target) else "fp32"
        heatmaps = heatmaps_from_file(path, self.crops, runtime, computed_in)
        report = accuracy_report(self.reference, heatmaps, precision=precision, onnx=str(path), tolerance=tolerance,
                                 model=self.model_name, crop_source=f"scikit-image {', '.join(HELD_OUT_IMAGES)}")
        if runtime == "openvino":
            kept = " (residual Adds in fp32)" if computed_in in REDUCED_PRECISIONS else ""
            report.notes.append(f"run by OpenVINO on the CPU, unquantized ops computed in {computed_in}{kept}")
        if self.random_weights:
            report.notes.append(_RANDOM_WEIGHTS_NOTE)
        return report, write_json_atomic(report.to_dict(), report_path)


def export_precision(
    model,
    precision: str,
    output_dir: str | Path,
    calibration_crops: np.ndarray | None = None,
    opset: int = DEFAULT_OPSET,
    random_weights: bool = False,
    verbose: bool = False,
    external_data_threshold: int = EXTERNAL_DATA_THRESHOLD_BYTES,
    log: Callable[[str], None] = print,
    target: str = DEFAULT_TARGET,
    name: str | None = None,
    reuse_current: bool = False,
) -> ExportResult:
    """Export `model` to fp32 ONNX, check it, and convert it to `precision` with an accuracy report.

    calibration_crops: (N, 3, 256, 192) float32 real crops for fp16/int8/fp8 (`needs_calibration`); None
    uses the first `default_calib_count(precision)` crops of scikit-image's calibration photos. Giving
    crops to a conversion that uses none is a `ConfigError`. random_weights only adds a
    note to the report. target: "tensorrt", "onnxruntime-cpu" or "openvino" (see the module docstring;
    `ExportResult.onnx` is then the file to run: an IR for OpenVINO int8, the fp32 ONNX for bf16). name: the
    files' stem (default `artifact_name(model)`). reuse_current: keep files that `recipes.is_current` says
    this version would write the same (a cache; their reports are read back). Raises `AccuracyError` when
    the fp32 file disagrees with PyTorch, `ConfigError` for a precision the target has no recipe for.

    Exports of one model into one folder take turns, across processes too (`export_lock`), so two runs
    never mix their files; every file is written atomically.
    """
    if precision not in PRECISIONS:
        raise ConfigError(f"unknown precision {precision!r}; valid: {', '.join(PRECISIONS)}")
    checked_target(target, precision)
    if calibration_crops is not None and not needs_calibration(precision, target):
        raise ConfigError(f"{precision} for {target} uses no calibration crops; pass calibration_crops=None")
    job = _Job(model, precision, target, name or artifact_name(model), Path(output_dir), opset, random_weights,
               verbose, external_data_threshold, log, reuse_current)
    with export_lock(job.fp32_path, log):
        return _export_in_turn(job, calibration_crops)


def export_lock(fp32_path: Path, log: Callable[[str], None] = print):
    """The cross-process lock of every artifact of the model whose fp32 file is `fp32_path`.

    All precisions share it: each export (re)writes the fp32 file its conversion starts from. Acquire it
    with `with export_lock(...)`; when another export holds it, `log` says so before waiting.
    """
    return _AnnouncedLock(path_lock(fp32_path), f"waiting for another export of {fp32_path.name} "
                                                f"into {fp32_path.parent} to finish", log)


class _AnnouncedLock:
    """A file lock that logs one line when it has to wait."""

    def __init__(self, lock, message: str, log: Callable[[str], None]):
        self.lock, self.message, self.log = lock, message, log

    def __enter__(self):
        try:
            self.lock.acquire(timeout=0)
        except Timeout:
            self.log(self.message)
            self.lock.acquire()
        return self

    def __exit__(self, *exc_info) -> None:
        self.lock.release()


@dataclass(frozen=True)
class _Job:
    """One `export_precision` call's settings."""

    model: object
    precision: str
    target: str
    name: str
    output_dir: Path
    opset: int
    random_weights: bool
    verbose: bool
    external_data_threshold: int
    log: Callable[[str], None]
    reuse_current: bool

    @property
    def fp32_path(self) -> Path:
        return onnx_path_for(self.output_dir, self.name, "fp32")

    @property
    def path(self) -> Path:
        return onnx_path_for(self.output_dir, self.name, self.precision, self.target)

    @property
    def report_path(self) -> Path:
        return report_path_of(self.output_dir, self.name, self.precision, self.target)

    def reusable(self, path: Path, precision: str) -> bool:
        return self.reuse_current and is_current(path, precision, self.target)


def _export_in_turn(job: _Job, calibration_crops) -> ExportResult:
    """`export_precision`'s work, while holding the model's export lock."""
    fp32_path, warp = job.fp32_path, job.model.keypoints.warp
    if job.reusable(fp32_path, "fp32") and (job.precision == "fp32" or job.reusable(job.path, job.precision)):
        return _result_on_disk(job)
    crops = held_out_crops(warp)
    judge = _Judge(crops, heatmaps_from_torch(job.model, crops), job.model.spec.name, job.random_weights)
    if job.reusable(fp32_path, "fp32"):
        check, check_path = _report_on_disk(report_path_for(fp32_path))
    else:
        job.log(f"exporting {job.name} to {fp32_path} (opset {job.opset})")
        export_onnx(job.model, fp32_path, opset=job.opset, external_data_threshold=job.external_data_threshold)
        check, check_path = judge.report(fp32_path, "fp32", FP32_TOLERANCE, report_path_for(fp32_path))
        job.log(f"fp32 check: {check.summary()}")
    if not check.within_tolerance:
        raise AccuracyError(f"{fp32_path} differs from PyTorch: rel-L2 {check.relative_l2:.3g} > {FP32_TOLERANCE:g} "
                            "(is the model in training mode?)")
    result = ExportResult(job.precision, fp32_path, fp32_path, check, check_path, check, check_path)
    if job.precision == "fp32":
        return result
    result.onnx = job.path
    if is_run_time_precision(job.precision, job.target):
        job.log(f"{job.precision} for {job.target} needs no file of its own: measuring the fp32 file run in it")
    else:
        _convert(job, calibration_crops, warp)
    result.report, result.report_path = judge.report(result.onnx, job.precision, REPORT_TOLERANCE[job.precision],
                                                     job.report_path, job.target)
    job.log(f"{job.precision} report: {result.report.summary()}")
    if not result.report.within_tolerance:
        job.log(f"WARNING: {job.precision} rel-L2 {result.report.relative_l2:.3g} exceeds "
                f"{result.report.tolerance:g}; see {result.report_path}")
    return result


def _result_on_disk(job: _Job) -> ExportResult:
    """The result of an earlier export whose files are all current (nothing is written)."""
    check, check_path = _report_on_disk(report_path_for(job.fp32_path))
    report, report_path = (check, check_path) if job.precision == "fp32" else _report_on_disk(job.report_path)
    job.log(f"reusing {job.path} (current; {report.summary()})")
    return ExportResult(job.precision, job.fp32_path, job.path, check, check_path, report, report_path)


def _convert(job: _Job, calibration_crops, warp: str) -> None:
    """Write `job.path` from the fp32 file by the recipe of the job's precision and target."""
    if calibration_crops is None:
        calibration_crops = default_calibration_crops(job.precision, job.target, warp)
    how = "no calibration" if calibration_crops is None else f"{len(calibration_crops)} calibration crops"
    job.log(f"converting to {job.precision} for {job.target} ({how}) -> {job.path}")
    converted_onnx_from_fp32(job.fp32_path, job.path, job.precision, job.target, calibration_crops,
                             verbose=job.verbose, external_data_threshold=job.external_data_threshold)


def _report_on_disk(path: Path) -> tuple[AccuracyReport, Path]:
    """The accuracy report an earlier export wrote at `path`."""
    return AccuracyReport.from_dict(json.loads(path.read_text(encoding="utf-8"))), path


def converted_onnx_from_fp32(src: Path, dst: Path, precision: str, target: str = DEFAULT_TARGET,
                             crops: np.ndarray | None = None, verbose: bool = False,
                             external_data_threshold: int = EXTERNAL_DATA_THRESHOLD_BYTES) -> Path:
    """The fp32 ONNX `src` converted to `precision` for `target` by that pair's recipe, written to `dst` (an
    OpenVINO IR `.xml` for target "openvino").

    crops: (N, 3, 256, 192) float32 calibration crops where `needs_calibration`, else None. No accuracy
    report (that is `export_precision`'s). Returns `dst`.
    """
    if target == OPENVINO_TARGET:
        return openvino_int8_from_fp32(src, dst, crops, verbose=verbose)
    options = {"verbose": verbose, "external_data_threshold": external_data_threshold}
    if target == CPU_TARGET:
        return cpu_int8_onnx_from_fp32(src, dst, **options)
    if precision in QUANTIZED_PRECISIONS:
        return quantized_onnx_from_fp32(src, dst, precision, crops, **options)
    return fp16_onnx_from_fp32(src, dst, crops, **options)
