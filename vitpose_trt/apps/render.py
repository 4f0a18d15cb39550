"""Poses drawn on images: the keypoint set's skeleton, coloured by body side, and the person boxes.

Colours come from the keypoint names, so every set (COCO, AIC, MPII, animals, whole-body) gets them
without a table: keypoints named "left_*" and edges between two of them are drawn in LEFT_BGR,
"right_*" in RIGHT_BGR, everything else (nose, neck, face, tail, edges across sides) in CENTRE_BGR.
"""

from __future__ import annotations

import numpy as np

from ..dependencies import import_optional
from ..errors import ConfigError
from ..keypoints import KeypointSet

LEFT_BGR = (255, 160, 0)
RIGHT_BGR = (0, 140, 255)
CENTRE_BGR = (80, 220, 80)
BOX_BGR = (255, 255, 255)
#: Keypoints (and edges touching one) scoring at or below this are not drawn; the official demos' kpt_thr.
DEFAULT_SCORE_THRESHOLD = 0.3
#: Line width and point radius grow with the image: one pixel of width per this many pixels of short side.
PIXELS_PER_LINE_WIDTH = 320
POINT_RADIUS_PER_LINE_WIDTH = 2


def side_colors(keypoints: KeypointSet) -> tuple[tuple[tuple[int, int, int], ...], tuple[tuple[int, int, int], ...]]:
    """(per-keypoint BGR colours (K,), per-skeleton-edge BGR colours (E,)) from the keypoint names."""
    sides = tuple("left" if n.startswith("left_") else "right" if n.startswith("right_") else ""
                  for n in keypoints.names)
    by_side = {"left": LEFT_BGR, "right": RIGHT_BGR, "": CENTRE_BGR}
    point_colors = tuple(by_side[s] for s in sides)
    edge_colors = tuple(by_side[sides[a]] if sides[a] == sides[b] else CENTRE_BGR for a, b in keypoints.skeleton)
    return point_colors, edge_colors


def visible_box_corners(box, image_shape: tuple[int, int], width: int) -> tuple[tuple[int, int], tuple[int, int]]:
    """((x1, y1), (x2, y2)) int px of an xyxy `box` clipped so a `width`-px outline lies inside (H, W) `image_shape`.

    A box along the image border (the whole-image box of a run without detections) would otherwise be
    drawn half (top, left) or entirely (bottom, right: x2 = W is one past the last pixel) off the image.
    """
    height, image_width = image_shape
    inset = width // 2
    x1, y1, x2, y2 = (round(float(v)) for v in box)
    xs = [min(max(x, inset), image_width - 1 - inset) for x in (x1, x2)]
    ys = [min(max(y, inset), height - 1 - inset) for y in (y1, y2)]
    return (xs[0], ys[0]), (xs[1], ys[1])


def drawn_poses(image: np.ndarray, poses, keypoints: KeypointSet,
                score_threshold: float = DEFAULT_SCORE_THRESHOLD, boxes: bool = True) -> np.ndarray:
    """A copy of `image` ((H, W, 3) uint8 BGR) with `poses` drawn on it.

    poses: a `Poses` with keypoints (N, K, 2) in image px and scores (N, K). Keypoints scoring at or
    below `score_threshold` and edges touching them are left out; boxes=True also outlines poses.boxes,
    whatever the keypoint scores (weights that give no confident keypoint still show their boxes), each
    pulled inside the image so a whole-image box shows on all four sides.
    """
    cv2 = import_optional("cv2", "drawing poses")
    if poses.num_keypoints != keypoints.num_keypoints:
        raise ConfigError(f"poses have {poses.num_keypoints} keypoints but the {keypoints.name} set has "
                          f"{keypoints.num_keypoints}")
    canvas = np.ascontiguousarray(image).copy()
    width = max(1, round(min(canvas.shape[:2]) / PIXELS_PER_LINE_WIDTH))
    point_colors, edge_colors = side_colors(keypoints)
    for person in range(len(poses)):
        if boxes:
            corners = visible_box_corners(poses.boxes[person], canvas.shape[:2], width)
            cv2.rectangle(canvas, *corners, BOX_BGR, width, cv2.LINE_AA)
        points = [(round(float(x)), round(float(y))) for x, y in poses.keypoints[person]]
        shown = poses.scores[person] > score_threshold
        for (a, b), color in zip(keypoints.skeleton, edge_colors):
            if shown[a] and shown[b]:
                cv2.line(canvas, points[a], points[b], color, width, cv2.LINE_AA)
        for index in np.flatnonzero(shown):
            cv2.circle(canvas, points[index], width * POINT_RADIUS_PER_LINE_WIDTH, point_colors[index], -1, cv2.LINE_AA)
    return canvas
