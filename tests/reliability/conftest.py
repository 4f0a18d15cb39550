"""Fixtures of the reliability tests: the random-weight `vitpose-tiny` exported once per session."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def tiny_onnx_path(tiny_model, tmp_path_factory):
    """vitpose-tiny.onnx (fp32, dynamic batch, vitpose-trt metadata) from the real `export_onnx`."""
    from vitpose_trt.export import export_onnx

    return export_onnx(tiny_model, tmp_path_factory.mktemp("reliability-tiny") / "vitpose-tiny.onnx")


@pytest.fixture(scope="session")
def tiny_engine_path(tiny_onnx_path, tmp_path_factory):
    """A TensorRT-RTX engine of vitpose-tiny (built on the CPU) with its sidecar next to it."""
    from vitpose_trt.engine import BuildOptions, engine_from_onnx

    out = tmp_path_factory.mktemp("reliability-engine")
    return engine_from_onnx(tiny_onnx_path, BuildOptions(builder="tensorrt-rtx"), out, progress=False).engine_path
