"""The device peak, host memory and environment readings, measured for real on this machine."""

from __future__ import annotations

import json
from importlib import metadata

import numpy as np
import pytest

from vitpose_trt.bench.environment import environment, gpus, library_versions
from vitpose_trt.bench.memory import MIB, PeakHostMemory
from vitpose_trt.bench.roofline import (
    MatmulPeak,
    cpu_matmul_peak,
    gpu_matmul_peak,
    roofline_percent,
)
from vitpose_trt.errors import ConfigError

SMALL_MATRIX = 512
#: A slab far above the interpreter's baseline, so the window's peak must show it.
SLAB_MIB = 256


def test_cpu_peak_is_measured_with_the_asked_threads_and_restores_torch():
    import torch

    before = torch.get_num_threads()
    peak = cpu_matmul_peak(threads=1, size=SMALL_MATRIX, repeats=2)
    assert torch.get_num_threads() == before
    assert peak.threads == 1 and peak.device == "cpu" and peak.precision == "fp32"
    # Any CPU that runs these tests does more than 0.1 GFLOP/s and less than 100 TFLOP/s.
    assert 1e8 < peak.flops_per_s < 1e14
    json.dumps(peak.to_dict())


def test_cpu_peak_refuses_zero_threads():
    with pytest.raises(ConfigError):
        cpu_matmul_peak(threads=0)


def test_roofline_percent_is_achieved_over_peak():
    peak = MatmulPeak("cpu", "fp32", 200e9, 2048, "test")
    assert roofline_percent(50e9, peak) == pytest.approx(25.0)


@pytest.mark.gpu
@pytest.mark.parametrize("precision", ["fp32", "fp16"])
def test_gpu_peak(precision):
    peak = gpu_matmul_peak(precision, size=4096, repeats=2)
    assert peak.device.startswith("cuda:") and peak.flops_per_s > 1e11


def test_peak_rss_window_sees_an_allocation_inside_it():
    with PeakHostMemory() as quiet:
        pass
    with PeakHostMemory() as busy:
        slab = np.ones(SLAB_MIB * MIB // 8)
        del slab
    assert busy.peak_mib >= SLAB_MIB
    if quiet.scope == busy.scope == "window":
        # The reset makes each window its own: the quiet one never held the slab.
        assert busy.peak_mib - quiet.peak_mib >= SLAB_MIB * 0.9


def test_environment_is_json_and_names_the_libraries():
    env = environment(threads=2)
    json.dumps(env)
    assert env["threads"] == 2 and env["cpu"] and env["cpu_count"] >= 1
    assert env["libraries"]["numpy"] == metadata.version("numpy")
    assert set(library_versions()) >= {"torch", "onnxruntime", "tensorrt", "tensorrt_rtx"}
    assert env["gpus"] == gpus()
    assert set(library_versions()) >= {"openvino", "nncf"}
    # What bf16 / int8 speed depends on, for comparing numbers across machines.
    assert set(env["cpu_flags"]) >= {"avx2", "avx512_vnni", "avx512_bf16", "amx_bf16", "amx_tile"}
    assert all(isinstance(present, bool) for present in env["cpu_flags"].values())
    assert "FP32" in env["openvino_cpu_capabilities"]
