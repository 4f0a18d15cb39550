"""int8 for ONNX Runtime on CPUs (`--target onnxruntime-cpu`): accuracy, fp32 rest, its own file name, no engine.

Random weights: judged by heatmap relative L2 on held-out real crops (FIELD.md), with ONNX Runtime's
default graph optimisations, i.e. through the fused int8 kernels a deployment runs.
"""

from __future__ import annotations

import json
import logging

import numpy as np
import onnx
import pytest

from vitpose_trt.artifacts import metadata_from_onnx
from vitpose_trt.errors import ConfigError, EngineBuildError, ExportError
from vitpose_trt.export.accuracy import heatmaps_from_onnx
from vitpose_trt.export.cpu_quantization import (
    CPU_TARGET,
    activation_matmuls,
    cpu_int8_onnx_from_fp32,
)

FLOAT, FLOAT16, INT8 = onnx.TensorProto.FLOAT, onnx.TensorProto.FLOAT16, onnx.TensorProto.INT8
#: reduce_range weights: int8 values within the 7-bit range [-64, 64].
SEVEN_BIT_MAX = 64


@pytest.fixture(scope="module")
def tiny_cpu_int8(tiny_converted, tiny_fp32_onnx, tmp_path_factory):
    """vitpose-tiny-int8-cpu.onnx, made after ModelOpt ran in this process (`tiny_converted`): ModelOpt's
    patches of ONNX Runtime's quantization classes must not reach it."""
    assert tiny_converted["int8"].is_file()
    dst = tmp_path_factory.mktemp("tiny-cpu-int8") / "vitpose-tiny-int8-cpu.onnx"
    return cpu_int8_onnx_from_fp32(tiny_fp32_onnx, dst)


def _weight_matmuls(model) -> list[str]:
    constants = {t.name for t in model.graph.initializer}
    return [n.name for n in model.graph.node if n.op_type == "MatMul" and n.input[1] in constants]


def test_cpu_int8_is_accurate_with_an_all_fp32_rest(tiny_cpu_int8, held_out):
    crops, reference = held_out
    heatmaps = heatmaps_from_onnx(tiny_cpu_int8, crops)
    assert np.linalg.norm(heatmaps - reference) / np.linalg.norm(reference) < 0.05
    model = onnx.load(str(tiny_cpu_int8))
    initializer_types = {t.data_type for t in model.graph.initializer}
    assert FLOAT16 not in initializer_types and INT8 in initializer_types
    assert not any(v.type.tensor_type.elem_type == FLOAT16 for v in model.graph.value_info)
    assert [v.type.tensor_type.elem_type for v in (*model.graph.input, *model.graph.output)] == [FLOAT, FLOAT]


def test_every_weight_matmul_is_dynamic_int8_and_attention_stays_fp32(tiny_cpu_int8, tiny_fp32_onnx):
    """qkv, proj, fc1, fc2 of both blocks -> DynamicQuantizeLinear + MatMulInteger; QK^T and attention@V
    (activation x activation) and the Convs unchanged."""
    source, model = onnx.load(str(tiny_fp32_onnx)), onnx.load(str(tiny_cpu_int8))
    ops = [n.op_type for n in model.graph.node]
    depth = 2
    assert len(_weight_matmuls(source)) == 4 * depth
    assert ops.count("MatMulInteger") == 4 * depth and ops.count("DynamicQuantizeLinear") == 4 * depth
    assert _weight_matmuls(model) == []
    unquantized = activation_matmuls(source)
    assert len(unquantized) == 2 * depth
    assert sorted(n.name for n in model.graph.node if n.op_type == "MatMul") == sorted(unquantized)
    assert ops.count("Conv") == [n.op_type for n in source.graph.node].count("Conv")
    assert "QuantizeLinear" not in ops and "DequantizeLinear" not in ops


def test_cpu_int8_weights_use_the_seven_bit_range_per_channel(tiny_cpu_int8):
    """reduce_range avoids u8 x s8 saturation on AVX2 CPUs; one scale per output channel."""
    model = onnx.load(str(tiny_cpu_int8))
    arrays = {t.name: onnx.numpy_helper.to_array(t) for t in model.graph.initializer}
    matmuls = [n for n in model.graph.node if n.op_type == "MatMulInteger"]
    assert matmuls
    for node in matmuls:
        weight = arrays[node.input[1]]
        assert weight.dtype == np.int8 and np.abs(weight.astype(np.int32)).max() <= SEVEN_BIT_MAX
        zero_points = arrays[node.input[3]]
        assert zero_points.shape == (weight.shape[1],) and not zero_points.any()  # per channel, symmetric


def test_cpu_int8_metadata_says_target_and_recipe(tiny_cpu_int8, tiny_fp32_onnx):
    metadata = metadata_from_onnx(tiny_cpu_int8)
    assert metadata.precision == "int8" and metadata.target == CPU_TARGET
    assert metadata.provenance.quantizer == "onnxruntime.quantization.quantize_dynamic"
    assert metadata.provenance.calibration_crops == 0 and metadata.provenance.high_precision_dtype == "fp32"
    assert list(metadata.provenance.unquantized_nodes) == activation_matmuls(onnx.load(str(tiny_fp32_onnx)))


def test_export_precision_writes_the_cpu_int8_beside_the_tensorrt_one(tiny_model, tmp_path):
    from vitpose_trt.export import export_precision

    lines = []
    cpu = export_precision(tiny_model, "int8", tmp_path, random_weights=True, log=lines.append, target=CPU_TARGET)
    assert cpu.onnx.name == "vitpose-tiny-int8-cpu.onnx"
    report = json.loads(cpu.report_path.read_text())
    assert cpu.report_path.name == "vitpose-tiny-int8-cpu.report.json"
    assert report["precision"] == "int8" and report["num_crops"] == 15 and report["within_tolerance"]
    assert report["relative_l2"] == pytest.approx(cpu.report.relative_l2) and report["relative_l2"] < 0.1
    assert report["onnx"] == str(cpu.onnx) and any("random weights" in note for note in report["notes"])
    assert any(line.startswith("int8 report:") for line in lines)
    assert any("for onnxruntime-cpu (no calibration)" in line for line in lines)
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["vitpose-tiny-int8-cpu.onnx", "vitpose-tiny-int8-cpu.report.json", "vitpose-tiny.onnx",
                     "vitpose-tiny.report.json"]


def test_calibration_crops_for_a_conversion_without_calibration_are_refused(tiny_model, tiny_calibration,
                                                                              tmp_path):
    from vitpose_trt.export import export_precision

    for precision, target in (("int8", CPU_TARGET), ("fp32", "tensorrt")):
        with pytest.raises(ConfigError, match="uses no calibration crops"):
            export_precision(tiny_model, precision, tmp_path, calibration_crops=tiny_calibration, target=target)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(("precision", "target", "message"), [
    ("fp16", CPU_TARGET, "has no fp16 recipe"),
    ("fp8", CPU_TARGET, "has no fp8 recipe"),
    ("int8", "cuda", "unknown target 'cuda'"),
])
def test_targets_without_a_recipe_are_config_errors(tiny_model, tmp_path, precision, target, message):
    from vitpose_trt.export import export_precision

    with pytest.raises(ConfigError, match=message):
        export_precision(tiny_model, precision, tmp_path, target=target)
    assert list(tmp_path.iterdir()) == []


def test_tensorrt_rtx_cannot_parse_dynamic_int8(tiny_cpu_int8):
    """Why the engine stage refuses these files: TensorRT's ONNX parser has no MatMulInteger."""
    from vitpose_trt.engine.builder_log import build_logger
    from vitpose_trt.engine.library import builder_library
    from vitpose_trt.engine.network import network_from_onnx

    trt = builder_library("tensorrt-rtx")
    with pytest.raises(EngineBuildError, match="MatMulInteger"):
        network_from_onnx(trt, tiny_cpu_int8, build_logger(trt))


def test_the_engine_stage_refuses_the_cpu_int8_file_by_its_target(tiny_cpu_int8, tmp_path):
    from vitpose_trt.engine import BuildOptions, engine_from_onnx

    with pytest.raises(ConfigError, match="for ONNX Runtime on CPUs.*--target tensorrt"):
        engine_from_onnx(tiny_cpu_int8, BuildOptions(builder="tensorrt-rtx", batch=(1, 2, 4)), tmp_path,
                         progress=False)
    assert list(tmp_path.iterdir()) == []


def test_an_onnx_runtime_quantizer_failure_is_an_export_error(tiny_fp32_onnx, tmp_path):
    """A weight whose stored bytes do not fill its shape: ONNX Runtime's quantizer fails; its message comes back."""
    model = onnx.load(str(tiny_fp32_onnx))
    weight = next(t for t in model.graph.initializer if t.name in {n.input[1] for n in model.graph.node
                                                                   if n.op_type == "MatMul"})
    weight.raw_data = weight.raw_data[: len(weight.raw_data) // 2]
    damaged = tmp_path / "damaged.onnx"
    onnx.save(model, str(damaged))
    with pytest.raises(ExportError, match="ONNX Runtime could not quantize damaged.onnx to int8: cannot reshape"):
        cpu_int8_onnx_from_fp32(damaged, tmp_path / "q.onnx")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["damaged.onnx"]


def test_quantizer_advice_is_logged_only_when_verbose(tiny_fp32_onnx, tmp_path, caplog):
    """ONNX Runtime's quantizer logs advice to the root logger; vitpose-export shows it with --verbose only."""
    with caplog.at_level("WARNING"):
        cpu_int8_onnx_from_fp32(tiny_fp32_onnx, tmp_path / "quiet.onnx")
        quiet = [r.getMessage() for r in caplog.records]
        caplog.clear()
        cpu_int8_onnx_from_fp32(tiny_fp32_onnx, tmp_path / "verbose.onnx", verbose=True)
        verbose = [r.getMessage() for r in caplog.records]
    assert quiet == [] and any("pre-processing" in message for message in verbose)
    assert logging.root.manager.disable == logging.NOTSET  # logging is back to what it was
