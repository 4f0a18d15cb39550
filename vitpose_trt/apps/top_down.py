"""`TopDown`: images in, persons and their poses out (a `PersonDetector`, then a `PoseEstimator` on its boxes).

On the GPU a numpy frame is uploaded once and both models read the same device copy; the detector's boxes
stay on the host between the two (they are N x 4 floats) and only keypoints come back.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..errors import ConfigError
from ..runtime.estimator import PoseEstimator
from ..runtime.poses import Poses


class TopDown:
    """detector: a `vt.PersonDetector`; estimator: a `vt.PoseEstimator`; both must take images in the same
    color order. `pipeline(image)` -> `Poses` whose `boxes` / `box_scores` are the detector's."""

    def __init__(self, detector, estimator):
        # The detector is duck-typed (anything with a PersonDetector's call, batch, backend and color); the
        # estimator is not: its batch and crops are what the poses come from.
        if not isinstance(estimator, PoseEstimator):
            raise ConfigError(f"TopDown(detector, estimator): the estimator must be a vt.PoseEstimator, "
                              f"got {estimator!r}")
        if isinstance(detector, PoseEstimator) or not callable(detector) or not all(
                hasattr(detector, name) for name in ("batch", "backend", "color")):
            raise ConfigError(f"TopDown(detector, estimator): the detector must be a vt.PersonDetector, "
                              f"got {detector!r}")
        if detector.color != estimator.color:
            raise ConfigError(f"the detector takes {detector.color} images and the estimator {estimator.color}: "
                              "build both with the same color=")
        self.detector, self.estimator = detector, estimator
        self._on_gpu = detector.backend.device == "cuda" and estimator.backend.device == "cuda"

    def __repr__(self) -> str:
        return f"TopDown({self.detector!r}, {self.estimator!r})"

    def __call__(self, image) -> Poses:
        """Persons and poses in `image` (H, W, 3) uint8 (numpy; CuPy on the GPU). No person: empty `Poses`."""
        return self.batch([image])[0]

    def batch(self, images: Sequence) -> list[Poses]:
        """`Poses` of each image: detection of all images, then the poses of all their persons together."""
        images = [self._on_device(image) for image in images]
        found = self.detector.batch(images)
        boxes = [np.concatenate([d.boxes, d.scores[:, None]], axis=1) for d in found]
        return self.estimator.batch(images, boxes)

    def _on_device(self, image):
        """A numpy image copied to the GPU once (its own copy: each image of a batch keeps its memory) when both
        models run there; else the image as it is."""
        if not self._on_gpu or not isinstance(image, np.ndarray):
            return image
        import cupy

        return cupy.asarray(image)
