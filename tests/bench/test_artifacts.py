"""The benchmark's export cache: a cached CPU int8 file made by an older recipe, or damaged, is exported again."""

from __future__ import annotations

import dataclasses

import onnx

from vitpose_trt.bench.artifacts import onnx_for
from vitpose_trt.bench.sources import model_source
from vitpose_trt.export.cpu_quantization import QUANTIZER, is_current_cpu_int8
from vitpose_trt.export.files import metadata_from_onnx, with_metadata
from vitpose_trt.metadata import ONNXRUNTIME_CPU_TARGET


def test_a_stale_cpu_int8_file_is_exported_again(bench_cache):
    source = model_source("vitpose-tiny")
    path = onnx_for(source, "int8", bench_cache, ONNXRUNTIME_CPU_TARGET)
    assert is_current_cpu_int8(path) and metadata_from_onnx(path).extra["quantizer"] == QUANTIZER
    # What the static Q/DQ recipe before it wrote: same name and target, another quantizer.
    stale = onnx.load(str(path))
    metadata = metadata_from_onnx(path)
    with_metadata(stale, dataclasses.replace(metadata, extra={**metadata.extra,
                                                              "quantizer": "onnxruntime.quantization.quantize_static"}))
    onnx.save(stale, str(path))
    assert not is_current_cpu_int8(path)
    assert onnx_for(source, "int8", bench_cache, ONNXRUNTIME_CPU_TARGET) == path
    assert is_current_cpu_int8(path)


def test_missing_and_damaged_files_are_not_current(tmp_path):
    path = tmp_path / "vitpose-tiny-int8-cpu.onnx"
    assert not is_current_cpu_int8(path)
    path.write_bytes(b"half an ONNX file")
    assert not is_current_cpu_int8(path)
