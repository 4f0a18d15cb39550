"""Shared fixtures and the `gpu` marker's skip rule.

Only tests that need absent hardware may skip: `gpu`-marked tests skip when no CUDA device is visible.
"""

from __future__ import annotations

import numpy as np
import pytest

from vitpose_trt.gpus import gpu_visible


def pytest_collection_modifyitems(config, items):
    if gpu_visible():
        return
    skip_gpu = pytest.mark.skip(reason="needs an NVIDIA GPU; none is visible on this machine")
    for item in items:
        # The marker itself, not item.keywords: keywords also hold file and folder names (tests/gpu/...).
        if item.get_closest_marker("gpu") is not None:
            item.add_marker(skip_gpu)


@pytest.fixture(scope="session")
def astronaut_bgr() -> np.ndarray:
    """skimage's astronaut as an OpenCV-style (512, 512, 3) uint8 BGR image."""
    from skimage import data

    return np.ascontiguousarray(data.astronaut()[:, :, ::-1])


@pytest.fixture(scope="session")
def tiny_model():
    """Random-weight `vitpose-tiny` (COCO head) in eval mode."""
    import torch

    import vitpose_trt as vt

    torch.manual_seed(0)
    return vt.load_model(name="vitpose-tiny")
