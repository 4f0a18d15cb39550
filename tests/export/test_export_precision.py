"""fp16 / int8 / fp8 conversions of the tiny model: accuracy on real crops, graph properties, reports.

Random weights: heatmaps are nearly flat, so the thresholds are on relative L2 (FIELD.md).
"""

from __future__ import annotations

import hashlib
import json

import numpy as np
import onnx
import pytest

from vitpose_trt.artifacts import metadata_from_onnx
from vitpose_trt.errors import ConfigError, ExportError
from vitpose_trt.export.accuracy import accuracy_report, heatmaps_from_onnx
from vitpose_trt.export.fp16 import fp16_onnx_from_fp32
from vitpose_trt.export.quantization import (
    attention_value_matmuls,
    int32_dequantize_nodes,
    quantized_onnx_from_fp32,
)

FLOAT, FLOAT16 = onnx.TensorProto.FLOAT, onnx.TensorProto.FLOAT16


def _sha256(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _io_types(model) -> list[int]:
    return [v.type.tensor_type.elem_type for v in (*model.graph.input, *model.graph.output)]


def _producers(model) -> dict:
    return {out: node for node in model.graph.node for out in node.output}


def test_fp16_is_accurate_with_fp32_io_and_fp32_layernorm(tiny_converted, held_out):
    crops, reference = held_out
    path = tiny_converted["fp16"]
    report = accuracy_report(reference, heatmaps_from_onnx(path, crops), model="vitpose-tiny", precision="fp16",
                             onnx=str(path), crop_source="held-out")
    assert report.relative_l2 < 1e-2 and report.cosine > 0.9999
    model = onnx.load(str(path))
    assert _io_types(model) == [FLOAT, FLOAT]
    assert sum(t.data_type == FLOAT16 for t in model.graph.initializer) > 10
    types = {v.name: v.type.tensor_type.elem_type for v in model.graph.value_info}
    norms = [n for n in model.graph.node if n.op_type == "LayerNormalization"]
    assert len(norms) == 5 and all(types.get(n.output[0], FLOAT) == FLOAT for n in norms)
    assert metadata_from_onnx(path).precision == "fp16"


def test_attention_value_matmuls_are_found_by_structure(tiny_fp32_onnx):
    model = onnx.load(str(tiny_fp32_onnx), load_external_data=False)
    names = attention_value_matmuls(model)
    producers, by_name = _producers(model), {n.name: n for n in model.graph.node}
    assert len(names) == 2  # vitpose-tiny has depth 2
    assert all(producers[by_name[n].input[0]].op_type == "Softmax" for n in names)


def _dequantized_inputs(model, node_name: str) -> bool:
    node = next(n for n in model.graph.node if n.name == node_name)
    producers = _producers(model)
    return any(producers.get(i) is not None and producers[i].op_type == "DequantizeLinear" for i in node.input)


@pytest.mark.parametrize("mode", ["int8", "fp8"])
def test_quantized_default_is_accurate_and_keeps_attention_values_unquantized(
    mode, tiny_fp32_onnx, tiny_converted, held_out
):
    crops, reference = held_out
    path = tiny_converted[mode]
    heatmaps = heatmaps_from_onnx(path, crops)
    assert np.linalg.norm(heatmaps - reference) / np.linalg.norm(reference) < 0.1
    model = onnx.load(str(path))
    assert _io_types(model) == [FLOAT, FLOAT]
    assert sum(n.op_type == "QuantizeLinear" for n in model.graph.node) >= 10
    assert int32_dequantize_nodes(model) == []
    excluded = attention_value_matmuls(onnx.load(str(tiny_fp32_onnx)))
    assert not any(_dequantized_inputs(model, name) for name in excluded)
    metadata = metadata_from_onnx(path)
    assert metadata.precision == mode and list(metadata.provenance.unquantized_nodes) == excluded
    assert metadata.provenance.opset == {o.domain: o.version for o in model.opset_import}[""] >= 19


def test_sources_are_never_modified_and_nothing_is_left_behind(tiny_fp32_onnx, tiny_calibration, tmp_path):
    before = _sha256(tiny_fp32_onnx)
    siblings = sorted(p.name for p in tiny_fp32_onnx.parent.iterdir())
    fp16_onnx_from_fp32(tiny_fp32_onnx, tmp_path / "h.onnx", tiny_calibration[:4])
    quantized_onnx_from_fp32(tiny_fp32_onnx, tmp_path / "q.onnx", "int8", tiny_calibration[:4])
    assert _sha256(tiny_fp32_onnx) == before, "ModelOpt must only ever see a copy"
    assert sorted(p.name for p in tiny_fp32_onnx.parent.iterdir()) == siblings
    assert sorted(p.name for p in tmp_path.iterdir()) == ["h.onnx", "q.onnx"]


def test_attention_values_can_be_quantized_on_request(tiny_fp32_onnx, tiny_calibration, tmp_path):
    path = quantized_onnx_from_fp32(tiny_fp32_onnx, tmp_path / "q.onnx", "int8", tiny_calibration[:8],
                                    quantize_attention_values=True)
    model = onnx.load(str(path))
    excluded = attention_value_matmuls(onnx.load(str(tiny_fp32_onnx)))
    assert all(_dequantized_inputs(model, name) for name in excluded)


def test_unknown_quantization_mode_is_a_config_error(tiny_fp32_onnx, tiny_calibration, tmp_path):
    with pytest.raises(ConfigError, match="int4"):
        quantized_onnx_from_fp32(tiny_fp32_onnx, tmp_path / "q.onnx", "int4", tiny_calibration)


def test_conversions_of_an_external_data_model(tiny_model, tiny_calibration, held_out, tmp_path):
    """The ViT-H case (fp32 over 2 GB) with a lowered threshold: fp16, int8 and the CPU int8 read the external
    data and leave the source folder as it was."""
    from vitpose_trt.export import export_onnx
    from vitpose_trt.export.cpu_quantization import cpu_int8_onnx_from_fp32
    from vitpose_trt.export.files import external_data_path

    crops, reference = held_out
    src = export_onnx(tiny_model, tmp_path / "src" / "vitpose-tiny.onnx", external_data_threshold=1024)
    before = _sha256(external_data_path(src))
    converted = [
        fp16_onnx_from_fp32(src, tmp_path / "vitpose-tiny-fp16.onnx", tiny_calibration[:4]),
        quantized_onnx_from_fp32(src, tmp_path / "vitpose-tiny-int8.onnx", "int8", tiny_calibration[:8],
                                 external_data_threshold=1024),
        cpu_int8_onnx_from_fp32(src, tmp_path / "vitpose-tiny-int8-cpu.onnx", external_data_threshold=1024),
    ]
    assert _sha256(external_data_path(src)) == before
    assert sorted(p.name for p in src.parent.iterdir()) == [src.name, external_data_path(src).name]
    assert external_data_path(converted[1]).is_file() and not external_data_path(converted[0]).exists()
    assert external_data_path(converted[2]).is_file()
    for path, tolerance in zip(converted, (1e-2, 0.1, 0.05)):
        heatmaps = heatmaps_from_onnx(path, crops)
        assert np.linalg.norm(heatmaps - reference) / np.linalg.norm(reference) < tolerance


def test_export_precision_writes_files_and_reports(tiny_model, tmp_path):
    from vitpose_trt.export import export_precision

    lines = []
    result = export_precision(tiny_model, "int8", tmp_path, random_weights=True, log=lines.append)
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["vitpose-tiny-int8.onnx", "vitpose-tiny-int8.report.json", "vitpose-tiny.onnx",
                     "vitpose-tiny.report.json"]
    assert result.fp32_check.relative_l2 < 1e-5
    report = json.loads(result.report_path.read_text())
    assert report["precision"] == "int8" and report["num_crops"] == 15
    assert report["relative_l2"] == pytest.approx(result.report.relative_l2) and report["relative_l2"] < 0.1
    assert report["within_tolerance"] and "argmax" in report["keypoint_method"]
    assert any("random weights" in note for note in report["notes"])
    assert any(line.startswith("int8 report:") and "rel-L2" in line and "cosine" in line for line in lines)
    assert any(line.startswith("fp32 check:") and "max-abs" in line for line in lines)


def test_unknown_precision_is_a_config_error(tiny_model, tmp_path):
    from vitpose_trt.export import export_precision

    with pytest.raises(ConfigError, match="int4"):
        export_precision(tiny_model, "int4", tmp_path)


@pytest.mark.parametrize("mode", ["fp16", "int8", "fp8"])
def test_tensorrt_rtx_builds_every_converted_graph(mode, tiny_converted, tmp_path):
    from vitpose_trt.artifacts.build_options import BuildOptions
    from vitpose_trt.engine.build import engine_from_onnx

    options = BuildOptions(builder="tensorrt-rtx", batch=(1, 2, 4))
    built = engine_from_onnx(tiny_converted[mode], options, tmp_path, progress=False)
    assert built.engine_path.stat().st_size > 0 and built.sidecar_path.is_file()


def test_int32_bias_dequantize_is_detected():
    from onnx import helper, numpy_helper

    bias = numpy_helper.from_array(np.arange(4, dtype=np.int32), "bias_q")
    scale = numpy_helper.from_array(np.array(0.1, dtype=np.float32), "bias_scale")
    node = helper.make_node("DequantizeLinear", ["bias_q", "bias_scale"], ["bias"], name="dq_bias")
    graph = helper.make_graph([node], "g", [], [helper.make_tensor_value_info("bias", FLOAT, [4])],
                              initializer=[bias, scale])
    assert int32_dequantize_nodes(helper.make_model(graph)) == ["dq_bias"]


def test_bad_source_files_are_named(tmp_path):
    crops = np.zeros((1, 3, 256, 192), dtype=np.float32)
    with pytest.raises(ConfigError, match="does not exist"):
        quantized_onnx_from_fp32(tmp_path / "missing.onnx", tmp_path / "q.onnx", "int8", crops)
    (tmp_path / "junk.onnx").write_bytes(b"not a protobuf at all")
    with pytest.raises(ExportError, match="junk.onnx"):
        fp16_onnx_from_fp32(tmp_path / "junk.onnx", tmp_path / "h.onnx", crops)


def test_streamed_ranges_match_autocasts_own_reference_run(tiny_fp32_onnx, tiny_calibration, tmp_path):
    """Our bounded-memory range analysis picks the same fp32 nodes as AutoCast's reference run.

    The limit is lowered to 2.0 so that many nodes trip it (none of the tiny model's reach 512).
    """
    import re

    from modelopt.onnx.autocast import convert_to_mixed_precision

    from vitpose_trt.export.activation_ranges import nodes_out_of_range, tensor_absmax

    crops, limit = tiny_calibration[:3], 2.0
    ours = nodes_out_of_range(tiny_fp32_onnx, tensor_absmax(tiny_fp32_onnx, crops, progress=False), limit)
    assert 10 < len(ours) < 69
    np.savez(tmp_path / "crops.npz", input=crops)
    theirs = convert_to_mixed_precision(str(tiny_fp32_onnx), "fp16", data_max=limit, keep_io_types=True,
                                        calibration_data=str(tmp_path / "crops.npz"), providers=["cpu"])
    mine = convert_to_mixed_precision(str(tiny_fp32_onnx), "fp16", data_max=np.inf, keep_io_types=True,
                                      nodes_to_exclude=[re.escape(n) + "$" for n in ours], providers=["cpu"])

    def casts(model) -> list[tuple[str, str]]:
        return sorted((n.name, n.output[0]) for n in model.graph.node if n.op_type == "Cast")

    assert casts(mine) == casts(theirs) and len(casts(mine)) > 2
