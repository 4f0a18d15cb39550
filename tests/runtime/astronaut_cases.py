"""Test cases shared by the runtime and GPU tests (importable by name: tests/runtime is on sys.path)."""

from __future__ import annotations

import numpy as np

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
