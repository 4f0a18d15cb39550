"""Full TensorRT builds on a GPU (skipped without one): same code path as the RTX builds, plus the timing cache."""

from __future__ import annotations

import pytest

from vitpose_trt.engine import BuildOptions, check_engine_compatible, engine_from_onnx
from vitpose_trt.errors import ConfigError
from vitpose_trt.gpus import current_gpu


@pytest.mark.gpu
@pytest.mark.parametrize("precision", ["fp16", "int8"])
def test_tensorrt_build_targets_the_local_gpu_and_reuses_its_timing_cache(precision, tiny_onnx, tmp_path):
    trt = pytest.importorskip("tensorrt")  # full TensorRT ships with the gpu extra only
    cache = tmp_path / "timing.cache"
    options = BuildOptions(builder="tensorrt", batch=(1, 4, 8), timing_cache=cache)
    built = engine_from_onnx(tiny_onnx(precision), options, tmp_path / "out", progress=False)
    gpu = current_gpu()
    sidecar = built.sidecar
    assert sidecar.library == "tensorrt" and sidecar.library_version == trt.__version__
    assert sidecar.gpu_name == gpu.name and sidecar.compute_capabilities == (gpu.compute_capability,)
    assert cache.stat().st_size > 0
    check_engine_compatible(sidecar, trt, gpu.name, gpu.compute_capability)

    again = engine_from_onnx(tiny_onnx(precision), BuildOptions(builder="tensorrt", batch=(1, 4, 8),
                                                                timing_cache=cache, force=True),
                             tmp_path / "out", progress=False)
    assert not again.skipped and cache.stat().st_size > 0


@pytest.mark.gpu
def test_tensorrt_refuses_rtx_compute_capability_targets(tiny_onnx, tmp_path):
    pytest.importorskip("tensorrt")
    options = BuildOptions(builder="auto", compute_capabilities=("8.6",))
    with pytest.raises(ConfigError, match="TensorRT-RTX"):
        engine_from_onnx(tiny_onnx("fp32"), options, tmp_path, progress=False)
