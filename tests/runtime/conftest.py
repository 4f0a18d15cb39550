"""Fixtures of the runtime tests: the peaked tiny model (see peaked_models.py) and its ONNX export."""

from __future__ import annotations

import numpy as np
import pytest

from peaked_models import peaked_vitpose

#: xyxy boxes on the 512x512 astronaut: the person, the face, a wide one across the left edge, one off the
#: bottom-right corner, a small fractional one, and one larger than the image.
ASTRONAUT_BOXES = np.array(
    [
        [130.0, 20.0, 430.0, 510.0],
        [170.0, 30.0, 290.0, 180.0],
        [-20.0, 250.0, 250.0, 400.0],
        [380.0, 380.0, 580.0, 580.0],
        [300.3, 100.7, 341.1, 160.2],
        [-60.0, -40.0, 600.0, 560.0],
    ]
)


@pytest.fixture(scope="session")
def peaked_tiny():
    """`vitpose-tiny` (COCO head) with peaked heatmaps, eval mode."""
    return peaked_vitpose("vitpose-tiny")


@pytest.fixture(scope="session")
def peaked_tiny_onnx(peaked_tiny, tmp_path_factory):
    """The peaked tiny model exported with `export_onnx` (fp32, dynamic batch, metadata) once per session."""
    from vitpose_trt.export import export_onnx

    return export_onnx(peaked_tiny, tmp_path_factory.mktemp("peaked-tiny") / "peaked-tiny.onnx")
