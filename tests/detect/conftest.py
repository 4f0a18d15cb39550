"""Detector fixtures: the grid detectors of each layout (detector_models.py) exported to ONNX, once per session."""

from __future__ import annotations

import pytest
from detector_models import MODELS, export_detector


@pytest.fixture(scope="session")
def grid_onnx(tmp_path_factory):
    """`grid_onnx(layout)` -> path of that layout's grid detector ONNX (256 x 320 input, dynamic batch)."""
    folder = tmp_path_factory.mktemp("grid-detectors")
    made = {}

    def get(layout: str):
        if layout not in made:
            made[layout] = export_detector(layout, folder / f"grid-{layout}.onnx")
        return made[layout]

    return get


@pytest.fixture(params=list(MODELS))
def layout(request) -> str:
    return request.param
