"""Where a person's box moved between two frames, measured by its keypoints: how a frame without detection
corrects the tracker's predicted box with the poses found in it."""

from __future__ import annotations

import numpy as np

#: Keypoints count as found at a score above this (the official demos' drawing threshold).
FOUND_SCORE = 0.3
#: Keypoints found in both frames needed to trust the motion they show.
MIN_SHARED_KEYPOINTS = 4


def boxes_moved_by_poses(boxes: np.ndarray, keypoints_before: np.ndarray, scores_before: np.ndarray,
                         keypoints_now: np.ndarray, scores_now: np.ndarray,
                         found_score: float = FOUND_SCORE, min_shared: int = MIN_SHARED_KEYPOINTS
                         ) -> tuple[np.ndarray, np.ndarray]:
    """The boxes of N persons moved by the median motion of the keypoints found in both frames.

    boxes: (N, 4) xyxy image px, the persons' boxes in the earlier frame; keypoints (N, K, 2) image px and
    scores (N, K) in the earlier and the current frame. Returns (moved boxes (N, 4) float64, measured (N,)
    bool): a person with fewer than `min_shared` keypoints scoring above `found_score` in both frames is
    not measured (its box is returned unmoved).
    """
    boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
    shared = (np.asarray(scores_before) > found_score) & (np.asarray(scores_now) > found_score)  # (N, K)
    measured = shared.sum(axis=1) >= min_shared
    motion = np.asarray(keypoints_now, np.float64) - np.asarray(keypoints_before, np.float64)  # (N, K, 2)
    moved = boxes.copy()
    for row in np.flatnonzero(measured):
        shift = np.median(motion[row][shared[row]], axis=0)
        moved[row] += np.tile(shift, 2)
    return moved, measured
