"""Fixtures of the serving tests: the peaked tiny model as ONNX, and the one-at-a-time server pool."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

# The peaked tiny model (tests/runtime/peaked_models.py): heatmaps with real peaks, so poses can be compared.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "runtime"))
sys.path.insert(0, str(Path(__file__).resolve().parent))


@pytest.fixture(scope="session")
def served_onnx(tmp_path_factory) -> Path:
    """The peaked vitpose-tiny exported to ONNX once per session (fp32, dynamic batch, with metadata)."""
    from peaked_models import peaked_vitpose

    from vitpose_trt.export import export_onnx

    return Path(export_onnx(peaked_vitpose("vitpose-tiny"), tmp_path_factory.mktemp("served") / "peaked-tiny.onnx"))


@pytest.fixture(scope="session")
def server_pool(served_onnx, tmp_path_factory):
    """The session's `ServerPool`: at most one Triton server alive, every one stopped at the end."""
    from servers import ServerPool

    pool = ServerPool(served_onnx, tmp_path_factory.mktemp("server-logs"))
    yield pool
    pool.stop_current()


@pytest.fixture
def server(server_pool):
    """The shared vitpose-serve of the session (started on first use, or again after a test stopped it)."""
    return server_pool.shared()


@pytest.fixture(scope="session")
def astronaut_rgb() -> np.ndarray:
    from skimage import data

    return np.ascontiguousarray(data.astronaut())
