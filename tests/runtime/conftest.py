"""Fixtures of the runtime tests: the peaked tiny model (see peaked_models.py) and its ONNX export."""

from __future__ import annotations

import pytest
from peaked_models import peaked_vitpose


@pytest.fixture(scope="session")
def peaked_tiny():
    """`vitpose-tiny` (COCO head) with peaked heatmaps, eval mode."""
    return peaked_vitpose("vitpose-tiny")


@pytest.fixture(scope="session")
def peaked_tiny_onnx(peaked_tiny, tmp_path_factory):
    """The peaked tiny model exported with `export_onnx` (fp32, dynamic batch, metadata) once per session."""
    from vitpose_trt.export import export_onnx

    return export_onnx(peaked_tiny, tmp_path_factory.mktemp("peaked-tiny") / "peaked-tiny.onnx")
