"""vitpose-export --detector: import (metadata, fixed input size), fp16 with its report, engines built by
TensorRT-RTX on the CPU for a YOLO-shaped and a DETR (RT-DETR) detector, and the CLI's refusals."""

from __future__ import annotations

import json

import numpy as np
import pytest
from detector_models import export_detector, paint_person

import vitpose_trt as vt
from vitpose_trt.artifacts import metadata_from_onnx, sidecar_for_engine
from vitpose_trt.cli.export import main as export_main
from vitpose_trt.errors import ConfigError, EngineLoadError
from vitpose_trt.export.detector_export import export_detector as export_detector_files

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def test_import_records_the_detector_and_detects_alike(grid_onnx, tmp_path):
    result = export_detector_files(grid_onnx("detr"), "fp32", tmp_path, log=lambda line: None)
    metadata = metadata_from_onnx(result.onnx)
    assert (metadata.task, metadata.model, metadata.detector.layout) == ("detector", "grid-detr", "detr")
    assert metadata.detector.output_names == ("logits", "pred_boxes") and metadata.detector.input_size == (256, 320)
    image = np.zeros((256, 320, 3), np.uint8)
    paint_person(image, (3, 4), 0.8, (50, 90))
    imported = vt.PersonDetector(result.onnx, color="rgb")(image)
    raw = vt.PersonDetector(grid_onnx("detr"), color="rgb")(image)
    np.testing.assert_array_equal(imported.boxes, raw.boxes)
    assert len(imported.boxes) == 1


def test_a_symbolic_image_size_is_fixed(tmp_path):
    import onnx

    path = export_detector("yolo", tmp_path / "any-size.onnx")
    model = onnx.load(str(path))
    for dim in model.graph.input[0].type.tensor_type.shape.dim[2:]:
        dim.dim_param = "side"
    onnx.save(model, str(path))
    with pytest.raises(EngineLoadError, match=r"only the first \(batch\) axis may vary.*vitpose-export --detector"):
        vt.PersonDetector(path)  # the error names the import that fixes the size
    with pytest.raises(ConfigError, match="symbolic image size; give it with --detector-size"):
        export_detector_files(path, "fp32", tmp_path / "out", log=lambda line: None)
    result = export_detector_files(path, "fp32", tmp_path / "out", input_size=(320, 320), log=lambda line: None)
    assert metadata_from_onnx(result.onnx).detector.input_size == (320, 320)
    assert vt.PersonDetector(result.onnx).settings.input_size == (320, 320)


@pytest.mark.parametrize("which", ["yolo-shaped", "rtdetr"])
def test_fp16_engine_with_report_built_on_the_cpu(which, yolo_shaped_onnx, rtdetr_onnx, tmp_path, capsys):
    """The whole CLI: import, fp16 (calibrated on real photos), report, TensorRT-RTX engine and sidecar."""
    source = yolo_shaped_onnx if which == "yolo-shaped" else rtdetr_onnx
    code = export_main(["--detector", str(source), "--precision", "fp16", "--calib-count", "4",
                        "--builder", "tensorrt-rtx", "--batch", "1:2:4", "--output", str(tmp_path)])
    out = capsys.readouterr().out
    assert code == 0, out
    stem = source.stem
    report = json.loads((tmp_path / f"{stem}-fp16.report.json").read_text())
    assert report["within_tolerance"] and report["images"] == ["astronaut", "coffee", "chelsea"]
    if which == "rtdetr":  # random weights that find persons: matched boxes judge
        assert report["reference_boxes"] > 0 and report["recall"] >= 0.9 and report["mean_matched_iou"] > 0.9
    sidecar = sidecar_for_engine(tmp_path / f"{stem}-fp16.engine")
    assert sidecar.artifact.task == "detector" and sidecar.precision == "fp16" and sidecar.library == "tensorrt_rtx"
    assert sidecar.io.output_names == sidecar.artifact.detector.output_names and sidecar.batch == (1, 2, 4)
    fp16 = vt.PersonDetector(tmp_path / f"{stem}-fp16.onnx")
    assert fp16.settings == vt.PersonDetector(tmp_path / f"{stem}.onnx").settings


@pytest.mark.parametrize("argv, fragment", [
    (["--weights", "x.pth"], "--weights: pose-model options, not for --detector"),
    (["--precision", "int8"], "exports fp32 or fp16, not int8"),
    (["--detector-size", "640"], "--detector-size '640': 2 non-negative integers expected"),
    (["--detector-classes", "person"], "comma-separated integers expected"),
])
def test_cli_refusals_exit_2(grid_onnx, tmp_path, capsys, argv, fragment):
    code = export_main(["--detector", str(grid_onnx("yolo")), "--builder", "none", "--output", str(tmp_path), *argv])
    err = capsys.readouterr().err
    assert code == 2 and fragment in err and err.count("\n") == 1
