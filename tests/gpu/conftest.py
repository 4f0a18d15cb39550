"""Fixtures of the GPU-runtime tests: a real vitpose-tiny ONNX export and an engine built from it.

The engine fixture builds with builder "auto" (TensorRT when installed, else TensorRT-RTX, which builds
on a CPU too), so the same fixture serves the CPU-side checks and the `gpu` tests.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

# The runtime tests' peaked models (smooth single-peak heatmaps): keypoints comparable across backends.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "runtime"))

#: Largest batch of the test engines: covers flip test for 4 persons and several graph buckets.
ENGINE_MAX_BATCH = 8


@pytest.fixture(scope="session")
def engine_max_batch() -> int:
    return ENGINE_MAX_BATCH


@pytest.fixture(scope="session")
def peaked_model():
    from peaked_models import peaked_vitpose

    return peaked_vitpose("vitpose-tiny")


@pytest.fixture(scope="session")
def peaked_onnx(peaked_model, tmp_path_factory) -> Path:
    from vitpose_trt.export import export_onnx

    return export_onnx(peaked_model, tmp_path_factory.mktemp("gpu-onnx") / "peaked-tiny.onnx")


@pytest.fixture(scope="session")
def peaked_engine(peaked_onnx, tmp_path_factory) -> Path:
    """A `.engine` (+ sidecar) of the peaked tiny model for batch 1..ENGINE_MAX_BATCH."""
    from vitpose_trt.engine import BuildOptions, engine_from_onnx

    options = BuildOptions(batch=(1, ENGINE_MAX_BATCH // 2, ENGINE_MAX_BATCH))
    built = engine_from_onnx(peaked_onnx, options, tmp_path_factory.mktemp("gpu-engine"), progress=False)
    return built.engine_path
