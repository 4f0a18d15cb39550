"""vitpose-export --target openvino: NNCF's int8 IR with metadata and a report run in OpenVINO; bf16's report.

Random weights: judged by heatmap relative L2 on held-out real crops against fp32 PyTorch, with the
bounds of the other precisions (export.accuracy.REPORT_TOLERANCE). The report runs the file in OpenVINO,
the runtime that will run it.
"""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest

from vitpose_trt.artifacts import metadata_from_openvino
from vitpose_trt.cpu_features import has_bf16, slow_int8_reason
from vitpose_trt.errors import ConfigError
from vitpose_trt.export.accuracy import REPORT_TOLERANCE, heatmaps_from_openvino
from vitpose_trt.export.cpu_quantization import activation_matmuls
from vitpose_trt.export.quantization import attention_value_matmuls
from vitpose_trt.export.recipes import NNCF_QUANTIZER, is_current
from vitpose_trt.export.targets import onnx_path_for, report_path_of
from vitpose_trt.openvino_cpu import residual_adds

OPENVINO = "openvino"


@pytest.fixture(scope="module")
def tiny_openvino_int8(tiny_model, tiny_calibration, tmp_path_factory):
    """`export_precision(tiny, "int8", target="openvino")` once: (result, its folder, the log lines)."""
    from vitpose_trt.export import export_precision

    folder, lines = tmp_path_factory.mktemp("tiny-openvino"), []
    result = export_precision(tiny_model, "int8", folder, calibration_crops=tiny_calibration, random_weights=True,
                              log=lines.append, target=OPENVINO)
    return result, folder, lines


def test_int8_ir_is_written_with_its_report_beside_the_fp32_onnx(tiny_openvino_int8):
    result, folder, lines = tiny_openvino_int8
    assert result.onnx == folder / "vitpose-tiny-int8-openvino.xml"
    assert sorted(p.name for p in folder.iterdir()) == [
        "vitpose-tiny-int8-openvino.bin", "vitpose-tiny-int8-openvino.report.json",
        "vitpose-tiny-int8-openvino.xml", "vitpose-tiny.onnx", "vitpose-tiny.report.json"]
    report = json.loads(result.report_path.read_text())
    assert report["precision"] == "int8" and report["num_crops"] == 15 and report["within_tolerance"]
    assert report["tolerance"] == REPORT_TOLERANCE["int8"] and report["relative_l2"] < REPORT_TOLERANCE["int8"]
    assert any("run by OpenVINO" in note and "fp32" in note for note in report["notes"])
    assert any("for openvino (32 calibration crops)" in line for line in lines)


def test_int8_report_is_what_openvino_computes(tiny_openvino_int8, held_out):
    result, _, _ = tiny_openvino_int8
    crops, reference = held_out
    heatmaps = heatmaps_from_openvino(result.onnx, crops)
    relative_l2 = np.linalg.norm(heatmaps - reference) / np.linalg.norm(reference)
    assert relative_l2 == pytest.approx(result.report.relative_l2, rel=1e-3)


def test_int8_ir_carries_the_metadata_and_int8_matmuls(tiny_openvino_int8, tiny_fp32_onnx):
    import onnx
    import openvino

    result, _, _ = tiny_openvino_int8
    metadata = metadata_from_openvino(result.onnx)
    assert (metadata.precision, metadata.target, metadata.model) == ("int8", OPENVINO, "vitpose-tiny")
    assert metadata.provenance.quantizer == NNCF_QUANTIZER and metadata.provenance.calibration_crops == 32
    assert metadata.provenance.high_precision_dtype == "fp32" and metadata.pose.keypoint_set == "coco"
    # NNCF's transformer mode: QK^T int8, attention@V (the MatMul after each Softmax) left fp32.
    assert list(metadata.provenance.unquantized_nodes) == sorted(
        attention_value_matmuls(onnx.load(str(tiny_fp32_onnx))))
    assert len(activation_matmuls(onnx.load(str(tiny_fp32_onnx)))) == 4
    model = openvino.Core().read_model(str(result.onnx))
    fake_quantized = [op for op in model.get_ops() if op.get_type_name() == "FakeQuantize"]
    weight_matmuls = 4 * 2  # qkv, proj, fc1, fc2 of both blocks
    assert len(fake_quantized) >= weight_matmuls
    # Quantized inputs do not hide the residual stream from bf16's fp32 marks (vitpose_trt.openvino_cpu).
    assert residual_adds(model) == [f"/backbone/blocks.{b}/{add}" for b in range(2) for add in ("Add", "Add_1")]
    assert is_current(result.onnx, "int8", OPENVINO) and not is_current(result.onnx, "int8", "onnxruntime-cpu")


def test_int8_ir_runs_in_the_estimator_by_its_suffix(tiny_openvino_int8, astronaut_bgr):
    import vitpose_trt as vt

    result, folder, _ = tiny_openvino_int8
    reason = slow_int8_reason()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        estimator = vt.PoseEstimator(result.onnx)
        vt.PoseEstimator(folder / "vitpose-tiny.onnx", backend="openvino")  # fp32: never warned about
    slow = [str(w.message) for w in caught if issubclass(w.category, RuntimeWarning) and "int8" in str(w.message)]
    # This CPU decides which half runs: without VNNI/AMX the int8 IR is slower than fp32, and the user is told.
    if reason is None:
        assert slow == []
    else:
        assert len(slow) == 1 and reason in slow[0] and "--target onnxruntime-cpu" in slow[0]
    assert estimator.backend.name == OPENVINO and estimator.backend.metadata.precision == "int8"
    poses = estimator(astronaut_bgr, np.array([[130.0, 20.0, 430.0, 510.0]]))
    assert poses.keypoints.shape == (1, 17, 2) and np.isfinite(poses.keypoints).all()


def test_a_current_int8_ir_is_reused(tiny_openvino_int8, tiny_model):
    from vitpose_trt.export import export_precision

    result, folder, _ = tiny_openvino_int8
    before = {p.name: p.stat().st_mtime_ns for p in folder.iterdir()}
    lines = []
    again = export_precision(tiny_model, "int8", folder, target=OPENVINO, reuse_current=True, log=lines.append)
    assert again.onnx == result.onnx and again.report.relative_l2 == result.report.relative_l2
    assert {p.name: p.stat().st_mtime_ns for p in folder.iterdir()} == before
    assert lines and lines[0].startswith("reusing")


def test_bf16_writes_only_a_report_or_is_refused_without_bf16(tiny_model, tmp_path):
    """bf16 is OpenVINO computing the fp32 ONNX: no file of its own, a report with the 16-bit float bound."""
    from vitpose_trt.export import export_precision

    if not has_bf16():
        with pytest.raises(ConfigError, match="cannot run bf16 in OpenVINO"):
            export_precision(tiny_model, "bf16", tmp_path, target=OPENVINO)
        return
    result = export_precision(tiny_model, "bf16", tmp_path, random_weights=True, target=OPENVINO)
    assert result.onnx == tmp_path / "vitpose-tiny.onnx" and result.report_path == report_path_of(
        tmp_path, "vitpose-tiny", "bf16", OPENVINO)
    assert result.report.relative_l2 < REPORT_TOLERANCE["bf16"] and result.report.within_tolerance
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "vitpose-tiny-bf16-openvino.report.json", "vitpose-tiny.onnx", "vitpose-tiny.report.json"]


def test_file_names_of_the_openvino_target(tmp_path):
    assert onnx_path_for(tmp_path, "m", "int8", OPENVINO) == tmp_path / "m-int8-openvino.xml"
    assert onnx_path_for(tmp_path, "m", "bf16", OPENVINO) == onnx_path_for(tmp_path, "m", "fp32") == tmp_path / "m.onnx"
    assert report_path_of(tmp_path, "m", "int8", OPENVINO) == tmp_path / "m-int8-openvino.report.json"
    assert report_path_of(tmp_path, "m", "bf16", OPENVINO) == tmp_path / "m-bf16-openvino.report.json"


@pytest.mark.parametrize(("precision", "target", "message"), [
    ("fp16", OPENVINO, "target openvino has no fp16 recipe .*computes 16-bit floats as bf16"),
    ("fp8", OPENVINO, "target openvino has no fp8 recipe"),
    ("bf16", "tensorrt", "target tensorrt has no bf16 recipe"),
    ("bf16", "onnxruntime-cpu", "target onnxruntime-cpu has no bf16 recipe"),
])
def test_precisions_without_an_openvino_recipe_are_refused(tiny_model, tmp_path, precision, target, message):
    from vitpose_trt.export import export_precision

    with pytest.raises(ConfigError, match=message):
        export_precision(tiny_model, precision, tmp_path, target=target)
    assert list(tmp_path.iterdir()) == []


def test_bf16_takes_no_calibration_crops(tiny_model, tiny_calibration, tmp_path):
    from vitpose_trt.export import export_precision

    with pytest.raises(ConfigError, match="bf16 for openvino uses no calibration crops"):
        export_precision(tiny_model, "bf16", tmp_path, calibration_crops=tiny_calibration, target=OPENVINO)
