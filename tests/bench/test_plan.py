"""Which cases run, which are skipped with a reason, and which requests are refused."""

from __future__ import annotations

import pytest

from vitpose_trt.bench.availability import backend_unavailable_reason, best_backend
from vitpose_trt.bench.plan import benchmark_plan
from vitpose_trt.bench.sources import model_source
from vitpose_trt.cpu_features import has_bf16
from vitpose_trt.errors import ConfigError

TINY = [model_source("vitpose-tiny")]


def test_crossed_lists_skip_meaningless_combinations_with_a_reason():
    plan = benchmark_plan(TINY, ["torch", "onnxruntime"], ["fp32", "int8"], [1, 8])
    ran = {(c.backend, c.precision, c.batch) for c in plan.cases}
    assert ran == {("torch", "fp32", 1), ("torch", "fp32", 8), ("onnxruntime", "fp32", 1),
                   ("onnxruntime", "fp32", 8), ("onnxruntime", "int8", 1), ("onnxruntime", "int8", 8)}
    assert [(s["backend"], s["precision"]) for s in plan.skipped] == [("torch", "int8")]
    assert "int8" in plan.skipped[0]["reason"]


def test_a_named_item_that_cannot_run_anywhere_is_refused():
    with pytest.raises(ConfigError, match="nothing to run.*PyTorch eager has no int8"):
        benchmark_plan(TINY, ["torch"], ["int8"], [1])


def test_default_backend_is_the_best_available_and_the_rest_are_listed():
    plan = benchmark_plan(TINY, None, None, [1])
    best = best_backend()
    assert {c.backend for c in plan.cases} == {best}
    unavailable = {b for b in ("tensorrt", "onnxruntime", "torch") if backend_unavailable_reason(b)}
    assert {s["backend"] for s in plan.skipped} == unavailable - {best}
    assert all(s["reason"] for s in plan.skipped)


def test_explicitly_asked_unavailable_backend_is_refused():
    reason = backend_unavailable_reason("tensorrt")
    if reason is None:  # a machine with a GPU and TensorRT: the request is fine
        assert benchmark_plan(TINY, ["tensorrt"], ["fp16"], [1]).cases
    else:
        with pytest.raises(ConfigError, match="backend tensorrt cannot run here"):
            benchmark_plan(TINY, ["tensorrt"], None, [1])


@pytest.mark.parametrize("backends,precisions,match", [
    (["tensorflow"], None, "unknown backend 'tensorflow'"),
    (None, ["fp64"], "unknown precision 'fp64'"),
])
def test_unknown_names_are_refused(backends, precisions, match):
    with pytest.raises(ConfigError, match=match):
        benchmark_plan(TINY, backends, precisions, [1])


def test_an_onnx_file_runs_on_onnxruntime_in_its_own_precision(bench_cache):
    from vitpose_trt.bench.artifacts import onnx_for

    path = onnx_for(TINY[0], "fp32", bench_cache)
    source = model_source(str(path))
    assert source.kind == "onnx" and source.fixed_backend == "onnxruntime"
    plan = benchmark_plan([source], None, None, [1, 2])
    assert {(c.backend, c.precision) for c in plan.cases} == {("onnxruntime", "fp32")}
    with pytest.raises(ConfigError, match="runs on onnxruntime or openvino only"):
        benchmark_plan([source], ["torch"], None, [1])
    with pytest.raises(ConfigError, match="is a fp32 model"):
        benchmark_plan([source], None, ["int8"], [1])
    # OpenVINO runs the same file, in fp32 or (on a CPU with bf16 instructions) computed in bf16.
    plan = benchmark_plan([source], ["openvino"], ["fp32"], [1])
    assert {(c.backend, c.precision) for c in plan.cases} == {("openvino", "fp32")}
    if has_bf16():
        plan = benchmark_plan([source], ["openvino"], ["bf16"], [1])
        assert {(c.backend, c.precision) for c in plan.cases} == {("openvino", "bf16")}
    else:
        with pytest.raises(ConfigError, match="--precision bf16: nothing to run.*no bf16 instructions"):
            benchmark_plan([source], ["openvino"], ["fp32", "bf16"], [1])


def test_openvino_precisions_and_their_reasons():
    plan = benchmark_plan(TINY, ["onnxruntime", "openvino"], ["fp32", "fp16", "int8"], [1])
    ran = {(c.backend, c.precision) for c in plan.cases}
    assert {("openvino", "fp32"), ("openvino", "int8"), ("onnxruntime", "fp16")} <= ran
    reasons = {(s["backend"], s["precision"]): s["reason"] for s in plan.skipped}
    assert "computes 16-bit floats as bf16" in reasons[("openvino", "fp16")]
    if has_bf16():
        plan = benchmark_plan(TINY, ["onnxruntime", "openvino"], ["bf16"], [1])
        assert {(c.backend, c.precision) for c in plan.cases} == {("openvino", "bf16")}
        reasons = {(s["backend"], s["precision"]): s["reason"] for s in plan.skipped}
        assert "bf16 is OpenVINO's CPU precision" in reasons[("onnxruntime", "bf16")]
    else:
        with pytest.raises(ConfigError, match="--backend onnxruntime: nothing to run.*bf16 is OpenVINO's CPU"):
            benchmark_plan(TINY, ["onnxruntime", "openvino"], ["bf16"], [1])
        with pytest.raises(ConfigError, match="--backend openvino: nothing to run.*no bf16 instructions"):
            benchmark_plan(TINY, ["openvino"], ["bf16"], [1])


def test_unknown_model_is_refused_with_the_valid_names():
    with pytest.raises(ConfigError, match="neither a known model.*vitpose-b"):
        model_source("vitpose-xxl")


def test_an_engine_file_needs_the_tensorrt_backend(bench_cache):
    from vitpose_trt.bench.artifacts import onnx_for
    from vitpose_trt.engine import BuildOptions, engine_from_onnx

    # TensorRT-RTX builds on a CPU (FIELD.md), so the engine and its sidecar are real.
    built = engine_from_onnx(onnx_for(TINY[0], "fp32", bench_cache), BuildOptions(builder="tensorrt-rtx"),
                             output_dir=bench_cache / "engines", progress=False)
    source = model_source(str(built.engine_path))
    assert source.kind == "engine" and source.fixed_backend == "tensorrt"
    reason = backend_unavailable_reason("tensorrt")
    if reason is None:
        assert {(c.backend, c.precision) for c in benchmark_plan([source], None, None, [1]).cases} == {
            ("tensorrt", "fp32")}
    else:
        with pytest.raises(ConfigError, match="runs on tensorrt only, which cannot run here"):
            benchmark_plan([source], None, None, [1])
    with pytest.raises(ConfigError, match="runs on tensorrt only"):
        benchmark_plan([source], ["onnxruntime"], None, [1])
