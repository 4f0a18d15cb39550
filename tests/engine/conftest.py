"""Engine-test fixtures: `vitpose-tiny` ONNX files from the real export pipeline, and RTX builds of them.

The ONNX files come from `vitpose_trt.export` (legacy exporter + onnxslim for fp32, ModelOpt AutoCast
for fp16, ModelOpt INT8 Q/DQ for int8), calibrated on a few real crops to stay fast. Every fixture is
session-scoped: each precision is exported and built once per test run.
"""

from __future__ import annotations

from pathlib import Path

import pytest

#: Calibration crops for the tiny fp16/int8 conversions (few: the tests check builds, not accuracy).
TINY_CALIB_COUNT = 8
TINY_MODEL = "vitpose-tiny"


@pytest.fixture(scope="session")
def tiny_onnx_dir(tmp_path_factory, tiny_model) -> Path:
    """A folder holding vitpose-tiny.onnx (fp32) exported by `export_onnx`."""
    from vitpose_trt.export.onnx_export import export_onnx

    folder = tmp_path_factory.mktemp("tiny-onnx")
    export_onnx(tiny_model, folder / f"{TINY_MODEL}.onnx")
    return folder


@pytest.fixture(scope="session")
def tiny_calibration_crops(tiny_model):
    from vitpose_trt.export.calibration import SAMPLE_CALIBRATION_IMAGES, sample_crops

    return sample_crops(SAMPLE_CALIBRATION_IMAGES[:2], tiny_model.keypoints.warp, TINY_CALIB_COUNT)


@pytest.fixture(scope="session")
def tiny_onnx(tiny_onnx_dir, tiny_calibration_crops):
    """`tiny_onnx(precision)` -> Path of vitpose-tiny[-precision].onnx, converted on first use."""
    from vitpose_trt.export.fp16 import fp16_onnx_from_fp32
    from vitpose_trt.export.quantization import quantized_onnx_from_fp32

    fp32 = tiny_onnx_dir / f"{TINY_MODEL}.onnx"
    made: dict[str, Path] = {"fp32": fp32}

    def get(precision: str) -> Path:
        if precision not in made:
            dst = tiny_onnx_dir / f"{TINY_MODEL}-{precision}.onnx"
            if precision == "fp16":
                fp16_onnx_from_fp32(fp32, dst, tiny_calibration_crops)
            else:
                quantized_onnx_from_fp32(fp32, dst, precision, tiny_calibration_crops)
            made[precision] = dst
        return made[precision]

    return get


@pytest.fixture(scope="session")
def tiny_engine(tmp_path_factory, tiny_onnx):
    """`tiny_engine(precision)` -> BuiltEngine of a TensorRT-RTX build (default options), built on first use."""
    from vitpose_trt.engine import BuildOptions, engine_from_onnx

    built = {}

    def get(precision: str):
        if precision not in built:
            out = tmp_path_factory.mktemp(f"tiny-engine-{precision}")
            built[precision] = engine_from_onnx(tiny_onnx(precision), BuildOptions(builder="tensorrt-rtx"), out,
                                                progress=False)
        return built[precision]

    return get
