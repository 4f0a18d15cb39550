"""vitpose-export --detector: a person detector's ONNX imported, converted to fp16 and built, like a pose model.

DIR/<stem>.onnx (the detector with its metadata), DIR/<stem>-fp16.onnx with <stem>-fp16.report.json
(matched-box IoU, score difference and recall against the fp32 file on held-out photos), then the engine
and its sidecar with the same builder as the pose model.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from ..errors import ConfigError
from .common import given_flags, refuse_without
from .export_triton import TRITON_OPTIONS

#: Pose-model options that mean nothing for a detector (refused rather than ignored): its ONNX is imported with
#: the opset it has, and a Triton model repository serves a pose model.
POSE_ONLY = {"--model": "model", "--weights": "weights", "--dataset": "dataset", "--calib-images": "calib_images",
             "--calib-annotations": "calib_annotations", "--opset": "opset", **TRITON_OPTIONS}
#: Options that describe the detector ONNX, so mean nothing without --detector.
DETECTOR_ONLY = {"--detector-size": "detector_size", "--detector-layout": "detector_layout",
                 "--detector-classes": "detector_classes"}


def add_detector_arguments(parser: argparse.ArgumentParser) -> None:
    d = parser.add_argument_group("person detector (instead of a pose model)")
    d.add_argument("--detector", metavar="ONNX", help="import a detector ONNX (Ultralytics YOLOv8/YOLO11/YOLO26, "
                   "transformers RT-DETR/D-FINE), convert it (--precision fp32 or fp16) and build its engine")
    d.add_argument("--detector-size", metavar="H,W", help="input size for an ONNX whose image size is symbolic "
                   "(default: the exporter's imgsz metadata)")
    d.add_argument("--detector-layout", metavar="{yolo,yolo-end2end,detr}",
                   help="output layout (default: recognised from the outputs)")
    d.add_argument("--detector-classes", metavar="LIST", help="class indices to keep, comma separated "
                   "(default: the class named 'person')")


def parsed_ints(text: str | None, flag: str, count: int | None = None) -> tuple[int, ...] | None:
    """"640,640" -> (640, 640); `ConfigError` naming `flag` for anything else (or another `count` of them)."""
    if text is None:
        return None
    try:
        values = tuple(int(v) for v in text.split(","))
    except ValueError:
        raise ConfigError(f"{flag} {text!r}: comma-separated integers expected") from None
    if (count is not None and len(values) != count) or any(v < 0 for v in values):
        raise ConfigError(f"{flag} {text!r}: {count or 'some'} non-negative integers expected")
    return values


def refuse_detector_options(args: argparse.Namespace) -> None:
    """Fail fast on --detector-* options given for a pose model (without --detector)."""
    refuse_without(given_flags(args, DETECTOR_ONLY), "--detector")


def checked_detector_arguments(args: argparse.Namespace) -> None:
    """Fail fast on options that do not apply to a detector."""
    from ..export.detector_export import DETECTOR_PRECISIONS
    from ..export.pipeline import DEFAULT_TARGET

    given = given_flags(args, POSE_ONLY)
    if args.target != DEFAULT_TARGET:
        given.append("--target")
    if given:
        raise ConfigError(f"{', '.join(given)}: pose-model options, not for --detector")
    if args.precision not in DETECTOR_PRECISIONS:
        raise ConfigError(f"--detector exports {' or '.join(DETECTOR_PRECISIONS)}, not {args.precision}")
    if not Path(args.detector).is_file():
        raise ConfigError(f"--detector {args.detector}: no such file")
    args.detector_size_values = parsed_ints(args.detector_size, "--detector-size", 2)
    args.detector_class_values = parsed_ints(args.detector_classes, "--detector-classes")


def export_detector_from(args: argparse.Namespace):
    """Import and convert `args.detector`; return the `DetectorExportResult`."""
    from ..export.detector_export import export_detector
    from ..export.fp16 import DEFAULT_FP16_CALIB_COUNT

    result = export_detector(args.detector, args.precision, args.output, layout=args.detector_layout,
                             classes=args.detector_class_values, input_size=args.detector_size_values,
                             calibration_count=args.calib_count or DEFAULT_FP16_CALIB_COUNT, verbose=args.verbose)
    print(f"wrote {result.onnx}" + (f" and {result.report_path}" if result.report_path else ""))
    return result
