"""int8 for ONNX Runtime on CPUs (`--target onnxruntime-cpu`): accuracy, fp32 rest, its own file name, RTX build.

Random weights: judged by heatmap relative L2 on held-out real crops (FIELD.md), with ONNX Runtime's
default graph optimisations, i.e. through the fused int8 kernels a deployment runs.
"""

from __future__ import annotations

import json

import numpy as np
import onnx
import pytest

from vitpose_trt.errors import ConfigError
from vitpose_trt.export.accuracy import heatmaps_from_onnx
from vitpose_trt.export.cpu_quantization import CPU_TARGET, cpu_int8_onnx_from_fp32
from vitpose_trt.export.files import metadata_from_onnx
from vitpose_trt.export.quantization import attention_value_matmuls, int32_dequantize_nodes

FLOAT, FLOAT16, INT8 = onnx.TensorProto.FLOAT, onnx.TensorProto.FLOAT16, onnx.TensorProto.INT8
#: reduce_range weights: int8 values within the 7-bit range [-64, 64].
SEVEN_BIT_MAX = 64


@pytest.fixture(scope="module")
def tiny_cpu_int8(tiny_converted, tiny_fp32_onnx, tiny_calibration, tmp_path_factory):
    """vitpose-tiny-int8-cpu.onnx, made after ModelOpt ran in this process (`tiny_converted`): ModelOpt's
    patches of ONNX Runtime's calibrators must not reach it."""
    assert tiny_converted["int8"].is_file()
    dst = tmp_path_factory.mktemp("tiny-cpu-int8") / "vitpose-tiny-int8-cpu.onnx"
    return cpu_int8_onnx_from_fp32(tiny_fp32_onnx, dst, tiny_calibration)


def _dequantized_inputs(model, node_name: str) -> bool:
    producers = {out: node for node in model.graph.node for out in node.output}
    node = next(n for n in model.graph.node if n.name == node_name)
    return any(producers.get(i) is not None and producers[i].op_type == "DequantizeLinear" for i in node.input)


def test_cpu_int8_is_accurate_with_an_all_fp32_rest(tiny_cpu_int8, tiny_fp32_onnx, held_out):
    crops, reference = held_out
    heatmaps = heatmaps_from_onnx(tiny_cpu_int8, crops)
    assert np.linalg.norm(heatmaps - reference) / np.linalg.norm(reference) < 0.1
    model = onnx.load(str(tiny_cpu_int8))
    initializer_types = {t.data_type for t in model.graph.initializer}
    assert FLOAT16 not in initializer_types and INT8 in initializer_types
    assert not any(v.type.tensor_type.elem_type == FLOAT16 for v in model.graph.value_info)
    assert [v.type.tensor_type.elem_type for v in (*model.graph.input, *model.graph.output)] == [FLOAT, FLOAT]
    matmuls_and_convs = [n for n in model.graph.node if n.op_type in ("MatMul", "Conv")]
    excluded = attention_value_matmuls(onnx.load(str(tiny_fp32_onnx)))
    assert len(excluded) == 2 and not any(_dequantized_inputs(model, name) for name in excluded)
    assert all(_dequantized_inputs(model, n.name) for n in matmuls_and_convs if n.name not in excluded)
    assert int32_dequantize_nodes(model) == []


def test_cpu_int8_weights_use_the_seven_bit_range_and_activations_zero_point_0(tiny_cpu_int8):
    """reduce_range avoids u8 x s8 saturation on AVX2 CPUs; symmetric activations keep TensorRT able to build it."""
    model = onnx.load(str(tiny_cpu_int8))
    int8 = {t.name: onnx.numpy_helper.to_array(t) for t in model.graph.initializer if t.data_type == INT8}
    weights = [v for v in int8.values() if v.size > 1]
    assert weights and all(np.abs(w.astype(np.int32)).max() <= SEVEN_BIT_MAX for w in weights)
    zero_points = [int8[n.input[2]] for n in model.graph.node if n.op_type == "QuantizeLinear" and len(n.input) > 2]
    assert zero_points and all(not zp.any() for zp in zero_points)


def test_cpu_int8_metadata_says_target_and_recipe(tiny_cpu_int8, tiny_calibration):
    metadata = metadata_from_onnx(tiny_cpu_int8)
    assert metadata.precision == "int8" and metadata.extra["target"] == CPU_TARGET
    assert metadata.extra["quantizer"] == "onnxruntime.quantization.quantize_static"
    assert metadata.extra["calibration_crops"] == len(tiny_calibration)
    assert metadata.extra["high_precision_dtype"] == "fp32" and len(metadata.extra["unquantized_nodes"]) == 2


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
    assert any("for onnxruntime-cpu" in line for line in lines)
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["vitpose-tiny-int8-cpu.onnx", "vitpose-tiny-int8-cpu.report.json", "vitpose-tiny.onnx",
                     "vitpose-tiny.report.json"]


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


def test_tensorrt_rtx_builds_the_cpu_int8_file(tiny_cpu_int8, tmp_path):
    from vitpose_trt.engine import BuildOptions, engine_from_onnx

    built = engine_from_onnx(tiny_cpu_int8, BuildOptions(builder="tensorrt-rtx", batch=(1, 2, 4)), tmp_path,
                             progress=False)
    assert built.engine_path.name == "vitpose-tiny-int8-cpu.engine" and built.engine_path.stat().st_size > 0
    assert built.sidecar.precision == "int8" and built.sidecar_path.name == "vitpose-tiny-int8-cpu.json"


def test_a_failure_in_the_quantization_process_is_an_export_error(tiny_fp32_onnx, tmp_path):
    """Wrong-size crops make ONNX Runtime fail inside the worker process; its message comes back."""
    from vitpose_trt.errors import ExportError

    wrong = np.zeros((2, 3, 128, 96), np.float32)
    with pytest.raises(ExportError, match="ONNX Runtime could not quantize"):
        cpu_int8_onnx_from_fp32(tiny_fp32_onnx, tmp_path / "q.onnx", wrong)
    assert list(tmp_path.iterdir()) == []
