"""BuildOptions validation and parsing (pure Python, no builder library needed)."""

from __future__ import annotations

from pathlib import Path

import pytest

from vitpose_trt.artifacts.build_options import BuildOptions, parse_batch
from vitpose_trt.engine.library import parsed_version
from vitpose_trt.errors import ConfigError, DeviceError
from vitpose_trt.gpus import (
    compute_capability_name,
    gpu_from_nvidia_smi_line,
    normalized_compute_capability,
)


def test_defaults_are_the_documented_profile():
    options = BuildOptions()
    assert options.builder == "auto"
    assert options.batch == (1, 8, 32)
    assert options.compute_capabilities == ()
    assert options.workspace_mib is None and options.optimization_level is None and not options.force


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(builder="onnxruntime"), "unknown builder"),
        (dict(batch=(8, 1, 32)), "MIN <= OPT <= MAX"),
        (dict(batch=(1, 64, 32)), "MIN <= OPT <= MAX"),
        (dict(batch=(0, 1, 2)), "1 <= MIN"),
        (dict(batch=(1, 8)), "three integers"),
        (dict(batch=(1.0, 8, 32)), "three integers"),
        (dict(workspace_mib=0), "positive"),
        (dict(optimization_level=6), "0-5"),
        (dict(optimization_level=True), "0-5"),
        (dict(compute_capabilities=("ampere",)), "bad compute capability"),
        (dict(compute_capabilities="8.6"), "sequence"),
        (dict(builder="tensorrt", compute_capabilities=("8.6",)), "tensorrt-rtx"),
    ],
)
def test_invalid_options_raise_config_error(kwargs, message):
    with pytest.raises(ConfigError, match=message):
        BuildOptions(**kwargs)


def test_compute_capabilities_are_normalised_and_deduplicated():
    options = BuildOptions(builder="tensorrt-rtx", compute_capabilities=("8.9", "sm_86", "SM89", "120"))
    assert options.compute_capabilities == ("SM89", "SM86", "SM120")
    assert normalized_compute_capability("current") == "CURRENT"
    assert compute_capability_name((8, 6)) == "SM86"
    assert compute_capability_name("12.1") == "SM121"


@pytest.mark.parametrize("text, expected", [("1:8:32", (1, 8, 32)), ("4", (4, 4, 4)), (" 2:2:2", (2, 2, 2))])
def test_parse_batch(text, expected):
    assert parse_batch(text) == expected


@pytest.mark.parametrize("text", ["1:8", "a:b:c", "8:4:2", "0:1:1", "1:2:3:4"])
def test_parse_batch_rejects(text):
    with pytest.raises(ConfigError):
        parse_batch(text)


def test_engine_settings_leave_out_what_does_not_shape_the_engine():
    a = BuildOptions(builder="auto", timing_cache="x.cache", force=True)
    b = BuildOptions(builder="tensorrt-rtx")
    assert a.engine_settings() == b.engine_settings()
    assert isinstance(a.timing_cache, Path)
    assert BuildOptions(batch=(1, 4, 8)).engine_settings() != b.engine_settings()


@pytest.mark.parametrize(
    "text, expected",
    [("10.3.0.26", (10, 3, 0, 26)), ("1.7.1.116", (1, 7, 1, 116)), ("11.0.0rc1", (11, 0, 0)), ("10", (10,))],
)
def test_versions_compare_as_numbers(text, expected):
    assert parsed_version(text) == expected
    assert parsed_version("10.10.0") > parsed_version("10.9.0")  # "10.10" < "10.9" as strings


def test_nvidia_smi_line_parsing():
    gpu = gpu_from_nvidia_smi_line("NVIDIA H100 80GB HBM3, 9.0")
    assert (gpu.name, gpu.compute_capability) == ("NVIDIA H100 80GB HBM3", "SM90")
    with pytest.raises(DeviceError):
        gpu_from_nvidia_smi_line("garbage")
