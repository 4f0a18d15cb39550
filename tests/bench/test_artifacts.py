"""The benchmark's models: its export cache (a stale or damaged cached file is exported again, a checkpoint
folder is keyed by its files) and the labels of the --model items."""

from __future__ import annotations

import dataclasses

import onnx

from vitpose_trt.artifacts import (
    ONNXRUNTIME_CPU_TARGET,
    metadata_from_onnx,
    with_metadata,
)
from vitpose_trt.bench.artifacts import onnx_for
from vitpose_trt.bench.sources import model_source
from vitpose_trt.export.cpu_quantization import QUANTIZER
from vitpose_trt.export.recipes import is_current, report_path_for


def _is_current_cpu_int8(path) -> bool:
    return is_current(path, "int8", ONNXRUNTIME_CPU_TARGET)


def test_a_stale_cpu_int8_file_is_exported_again(bench_cache):
    source = model_source("vitpose-tiny")
    path = onnx_for(source, "int8", bench_cache, ONNXRUNTIME_CPU_TARGET)
    assert _is_current_cpu_int8(path) and metadata_from_onnx(path).provenance.quantizer == QUANTIZER
    assert report_path_for(path).is_file()  # the export library's accuracy report is kept beside it
    # What the static Q/DQ recipe before it wrote: same name and target, another quantizer.
    stale = onnx.load(str(path))
    metadata = metadata_from_onnx(path)
    provenance = dataclasses.replace(metadata.provenance, quantizer="onnxruntime.quantization.quantize_static")
    with_metadata(stale, dataclasses.replace(metadata, provenance=provenance))
    onnx.save(stale, str(path))
    assert not _is_current_cpu_int8(path)
    assert onnx_for(source, "int8", bench_cache, ONNXRUNTIME_CPU_TARGET) == path
    assert _is_current_cpu_int8(path)


def test_missing_and_damaged_files_are_not_current(tmp_path):
    path = tmp_path / "vitpose-tiny-int8-cpu.onnx"
    assert not _is_current_cpu_int8(path)
    path.write_bytes(b"half an ONNX file")
    assert not _is_current_cpu_int8(path)


def test_a_checkpoint_folder_is_keyed_by_the_files_in_it(tmp_path):
    """Weights copied over a Hugging Face folder's files change the cached export's name (the folder's own
    size and time do not change)."""
    from vitpose_trt.bench.artifacts import _cache_stem

    folder = tmp_path / "hf"
    folder.mkdir()
    (folder / "config.json").write_text("{}")
    weights = folder / "model.safetensors"
    weights.write_bytes(b"tiny weights")
    before = _cache_stem(model_source(str(folder)))
    assert before == _cache_stem(model_source(str(folder))) and before.startswith("hf-")
    folder_times = folder.stat().st_mtime_ns
    weights.write_bytes(b"the weights of a larger model")
    assert folder.stat().st_mtime_ns == folder_times  # what the old key looked at
    assert _cache_stem(model_source(str(folder))) != before


def test_models_of_one_name_get_labels_apart_and_repeats_run_once(tmp_path):
    """Two checkpoints named alike (two `hf` folders) must not share a report row label or a plot line."""
    from vitpose_trt.bench.sources import model_sources

    for folder in ("a/hf", "b/hf", "c/x/hf", "d/x/hf"):
        (tmp_path / folder).mkdir(parents=True)
        (tmp_path / folder / "config.json").write_text("{}")
    texts = [str(tmp_path / f) for f in ("a/hf", "b/hf", "c/x/hf", "d/x/hf")] + ["vitpose-tiny", "vitpose-tiny"]
    assert [s.label for s in model_sources(texts)] == ["a/hf", "b/hf", "c/x/hf", "d/x/hf", "vitpose-tiny"]
    assert [s.label for s in model_sources([str(tmp_path / "a/hf"), "vitpose-tiny"])] == ["hf", "vitpose-tiny"]
