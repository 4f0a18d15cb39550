"""A real, tiny detector + pose pipeline for the `vitpose_e2e` tests, until vitpose_trt.detect lands.

`BrightRegionPipeline.batch(images)` finds "persons" by a deterministic image rule (connected regions
brighter than BRIGHT on a dark background, each region's bounding box a person, its mean brightness / 255
the box score) and runs a real `PoseEstimator` on them: the interface `vitpose_e2e` serves
(`batch(images) -> list[Poses]` with boxes and box_scores), as `vitpose_trt.apps.top_down.TopDown` will.
"""

from __future__ import annotations

import numpy as np

#: A pixel belongs to a person when its brightest channel is above this.
BRIGHT = 128
#: Regions smaller than this many pixels are noise, not persons.
MIN_AREA = 64


def bright_region_boxes(image: np.ndarray) -> np.ndarray:
    """(N, 5) float32: xyxy image px + score of every bright region of `image`, left to right."""
    import cv2

    mask = (image.max(axis=2) > BRIGHT).astype(np.uint8)
    count, labels, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    rows = []
    for label in range(1, count):
        x, y, w, h, area = stats[label]
        if area >= MIN_AREA:
            score = image[labels == label].mean() / 255.0
            rows.append([x, y, x + w, y + h, score])
    rows.sort(key=lambda row: row[0])
    return np.array(rows, np.float32).reshape(-1, 5)


def people_image(height: int = 240, width: int = 320) -> np.ndarray:
    """(H, W, 3) uint8: a dark frame with two bright, textured "persons" of different brightness."""
    rng = np.random.default_rng(7)
    image = rng.integers(0, 60, (height, width, 3), dtype=np.uint8)
    image[30:210, 40:120] = rng.integers(180, 255, (180, 80, 3), dtype=np.uint8)
    image[60:230, 200:270] = rng.integers(140, 220, (170, 70, 3), dtype=np.uint8)
    return image


class BrightRegionPipeline:
    """Detector (bright regions) + a real `PoseEstimator`: images -> Poses with the detector's boxes and scores."""

    def __init__(self, detector: str, estimator):
        self.detector, self.estimator = detector, estimator

    def batch(self, images: list) -> list:
        return self.estimator.batch(images, [bright_region_boxes(image) for image in images])
