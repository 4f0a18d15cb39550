"""The export stage for a person detector: import its ONNX, convert it to fp16, report the conversion.

`DIR/<stem>.onnx` (fp32: the imported graph with detector metadata, `detector_import`), then for fp16
`DIR/<stem>-fp16.onnx` by the pose model's recipe (ModelOpt AutoCast, fp32 I/O, ops whose activations
overflow fp16 on real photos kept fp32) and `DIR/<stem>-fp16.report.json` (`detector_accuracy`). Exports
of one detector into one folder take turns (the export lock).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ..artifacts.metadata import ArtifactMetadata
from ..errors import ConfigError
from .calibration import SAMPLE_CALIBRATION_IMAGES
from .detector_accuracy import (
    DetectorAccuracyReport,
    detector_report,
    fitted_sample_images,
)
from .detector_import import imported_detector
from .files import EXTERNAL_DATA_THRESHOLD_BYTES, write_json_atomic
from .fp16 import DEFAULT_FP16_CALIB_COUNT, fp16_onnx_from_fp32
from .pipeline import export_lock, onnx_path_for
from .recipes import report_path_for

#: Precisions a detector is exported in.
DETECTOR_PRECISIONS = ("fp32", "fp16")


@dataclass
class DetectorExportResult:
    """fp32_onnx: the imported file; onnx: the file of the asked precision (the same for fp32), with its
    report (None for fp32: it is the reference)."""

    metadata: ArtifactMetadata
    fp32_onnx: Path
    onnx: Path
    report: DetectorAccuracyReport | None
    report_path: Path | None


def export_detector(src: str | Path, precision: str, output_dir: str | Path, *, layout: str | None = None,
                    classes=None, input_size: tuple[int, int] | None = None,
                    calibration_count: int = DEFAULT_FP16_CALIB_COUNT, verbose: bool = False,
                    log: Callable[[str], None] = print,
                    external_data_threshold: int = EXTERNAL_DATA_THRESHOLD_BYTES) -> DetectorExportResult:
    """Import the detector ONNX `src` into `output_dir` and convert it to `precision` ("fp32" or "fp16").

    layout, classes, input_size: see `detector_import.imported_detector`. calibration_count: scikit-image
    calibration photos for fp16's range analysis (never the held-out photos of the report).
    """
    if precision not in DETECTOR_PRECISIONS:
        raise ConfigError(f"a detector is exported in {' or '.join(DETECTOR_PRECISIONS)}, not {precision}")
    fp32_path = onnx_path_for(output_dir, Path(src).stem, "fp32")
    with export_lock(fp32_path, log):
        log(f"importing detector {src} -> {fp32_path}")
        fp32_path, metadata = imported_detector(src, output_dir, layout=layout, classes=classes, input_size=input_size,
                                                external_data_threshold=external_data_threshold)
        settings = metadata.detector
        log(f"layout {settings.layout}, input {settings.input_size[0]}x{settings.input_size[1]} "
            f"({settings.resize}), classes {list(settings.classes)}, score > {settings.score_threshold}")
        result = DetectorExportResult(metadata, fp32_path, fp32_path, None, None)
        if precision == "fp32":
            return result
        result.onnx = onnx_path_for(output_dir, metadata.model, precision)
        names = SAMPLE_CALIBRATION_IMAGES[:calibration_count]
        log(f"converting to {precision} ({len(names)} calibration photos) -> {result.onnx}")
        inputs, _ = fitted_sample_images(names, settings)
        fp16_onnx_from_fp32(fp32_path, result.onnx, inputs, verbose=verbose,
                            external_data_threshold=external_data_threshold)
        result.report = detector_report(fp32_path, result.onnx, settings, precision, metadata.model)
        result.report_path = write_json_atomic(result.report.to_dict(), report_path_for(result.onnx))
        log(f"{precision} report: {result.report.summary()}")
        if not result.report.within_tolerance:
            log(f"WARNING: {precision} detections differ from fp32 beyond the bounds; see {result.report_path}")
    return result
