"""Fixtures of the export tests: one fp32 export of the tiny model, shared, plus its reference heatmaps."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def held_out(tiny_model):
    """Held-out real crops (15, 3, 256, 192) and the tiny model's fp32 PyTorch heatmaps on them."""
    from vitpose_trt.export.accuracy import heatmaps_from_torch
    from vitpose_trt.export.calibration import held_out_crops

    crops = held_out_crops(tiny_model.keypoints.warp)
    return crops, heatmaps_from_torch(tiny_model, crops)


@pytest.fixture(scope="session")
def tiny_fp32_onnx(tiny_model, tmp_path_factory):
    """`vitpose-tiny.onnx` exported once per session (read-only for the tests)."""
    from vitpose_trt.export import export_onnx

    return export_onnx(tiny_model, tmp_path_factory.mktemp("tiny-fp32") / "vitpose-tiny.onnx")


@pytest.fixture(scope="session")
def tiny_calibration(tiny_model):
    """32 calibration crops from scikit-image's calibration photos."""
    from vitpose_trt.export.calibration import SAMPLE_CALIBRATION_IMAGES, sample_crops

    return sample_crops(SAMPLE_CALIBRATION_IMAGES, tiny_model.keypoints.warp, 32)


@pytest.fixture(scope="session")
def tiny_converted(tiny_fp32_onnx, tiny_calibration, tmp_path_factory):
    """{"fp16" | "int8" | "fp8": path} of the tiny model, each converted once per session with defaults."""
    from vitpose_trt.export.fp16 import fp16_onnx_from_fp32
    from vitpose_trt.export.quantization import quantized_onnx_from_fp32

    folder = tmp_path_factory.mktemp("tiny-converted")
    paths = {"fp16": fp16_onnx_from_fp32(tiny_fp32_onnx, folder / "vitpose-tiny-fp16.onnx", tiny_calibration)}
    for mode in ("int8", "fp8"):
        paths[mode] = quantized_onnx_from_fp32(tiny_fp32_onnx, folder / f"vitpose-tiny-{mode}.onnx", mode,
                                               tiny_calibration)
    return paths
