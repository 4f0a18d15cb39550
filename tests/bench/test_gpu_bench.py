"""GPU benchmarks: TensorRT and PyTorch on CUDA, timed by CUDA events (skipped where no GPU is visible)."""

from __future__ import annotations

import pytest

from vitpose_trt.bench.plan import benchmark_plan
from vitpose_trt.bench.report import report_schema_errors
from vitpose_trt.bench.run import benchmark_report
from vitpose_trt.bench.sources import model_source

pytestmark = pytest.mark.gpu


@pytest.mark.parametrize("backend,precision", [("tensorrt", "fp16"), ("tensorrt", "fp32"), ("torch", "fp32"), ("torch", "fp16")])
def test_gpu_model_only_is_timed_by_cuda_events(backend, precision, bench_cache):
    plan = benchmark_plan([model_source("vitpose-tiny")], [backend], [precision], [1, 8])
    report = benchmark_report(plan, warmup=3, iters=10, threads=None, cache=bench_cache, command=["test"])
    assert report_schema_errors(report) == []
    for row in report["results"]:
        assert row["clock"] == "cuda-events"
        assert row["device_memory_mib"] > 0
        assert row["roofline_percent"] is not None and row["peak_precision"] == precision
    assert report["environment"]["gpus"]


def test_gpu_pipeline_has_stages(bench_cache):
    from vitpose_trt.bench.model_only import Case
    from vitpose_trt.bench.pipeline import image_for_pipeline, run_pipeline_case

    image, color, label = image_for_pipeline(None)
    row = run_pipeline_case(Case(model_source("vitpose-tiny"), "tensorrt", "fp16", 4), warmup=3, iters=10,
                            threads=None, cache=bench_cache, peak=None, image=image, color=color, image_label=label)
    assert set(row["stages_ms"]) == {"crop", "infer", "flip_merge", "decode_download", "validate_map"}
    assert row["device_memory_mib"] > 0
