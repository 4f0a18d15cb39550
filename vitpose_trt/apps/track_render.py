"""Tracked poses drawn on video frames: the skeletons (`render.drawn_poses`), each track's box and id in a
colour of its own (the id above the box, or inside it at the top of the frame), and a short trail of where its
feet (the box's bottom centre) have been."""

from __future__ import annotations

import colorsys
from collections import deque

import numpy as np

from ..dependencies import import_optional
from ..keypoints import KeypointSet
from .render import DEFAULT_SCORE_THRESHOLD, PIXELS_PER_LINE_WIDTH, drawn_poses, visible_box_corners

#: Frames of history a trail shows; a track unseen for this long is forgotten.
TRAIL_FRAMES = 20
#: Consecutive ids get hues this far apart (the golden ratio's fraction): neighbours never look alike.
HUE_STEP = 0.618033988749895
TRACK_SATURATION, TRACK_VALUE = 0.85, 1.0
#: Label text size per line width, and its gap above the box (px per line width).
FONT_SCALE_PER_LINE_WIDTH = 0.5
LABEL_GAP_PER_LINE_WIDTH = 4


def track_color(track_id: int) -> tuple[int, int, int]:
    """A BGR colour of its own for each track id."""
    red, green, blue = colorsys.hsv_to_rgb((track_id * HUE_STEP) % 1.0, TRACK_SATURATION, TRACK_VALUE)
    return round(blue * 255), round(green * 255), round(red * 255)


class TrackTrails:
    """The last `length` feet positions (x, y) image px of each track, oldest first."""

    def __init__(self, length: int = TRAIL_FRAMES):
        self.length = length
        self._points: dict[int, deque] = {}
        self._last_seen: dict[int, int] = {}
        self._frame = 0

    def update(self, track_ids: np.ndarray, boxes: np.ndarray) -> None:
        """Add one frame: track_ids (N,), boxes (N, 4) xyxy image px."""
        self._frame += 1
        for track, box in zip(np.asarray(track_ids).tolist(), np.asarray(boxes).reshape(-1, 4)):
            points = self._points.setdefault(track, deque(maxlen=self.length))
            points.append(((box[0] + box[2]) / 2, box[3]))
            self._last_seen[track] = self._frame
        for track in [t for t, seen in self._last_seen.items() if self._frame - seen >= self.length]:
            del self._points[track], self._last_seen[track]

    def points(self, track_id: int) -> list[tuple[float, float]]:
        return list(self._points.get(int(track_id), ()))

    def __len__(self) -> int:
        return len(self._points)


def drawn_tracks(image: np.ndarray, poses, track_ids: np.ndarray, trails: TrackTrails, keypoints: KeypointSet,
                 score_threshold: float = DEFAULT_SCORE_THRESHOLD) -> np.ndarray:
    """A copy of `image` (H, W, 3) uint8 BGR with the poses, their track ids (N,) and trails drawn; `trails`
    must already hold this frame (`TrackTrails.update`)."""
    cv2 = import_optional("cv2", "drawing tracks")
    canvas = drawn_poses(image, poses, keypoints, score_threshold)
    width = max(1, round(min(canvas.shape[:2]) / PIXELS_PER_LINE_WIDTH))
    for track, box in zip(np.asarray(track_ids).tolist(), poses.boxes):
        color = track_color(track)
        trail = np.round(np.array(trails.points(track), np.float64)).astype(np.int32)
        if len(trail) > 1:
            cv2.polylines(canvas, [trail.reshape(-1, 1, 2)], False, color, width, cv2.LINE_AA)
        cv2.rectangle(canvas, *visible_box_corners(box, canvas.shape[:2], width), color, width, cv2.LINE_AA)
        label, scale = f"#{track}", FONT_SCALE_PER_LINE_WIDTH * width
        (_, text_height), _ = cv2.getTextSize(label, cv2.FONT_HERSHEY_SIMPLEX, scale, width)
        x, y = round(float(box[0])), round(float(box[1])) - LABEL_GAP_PER_LINE_WIDTH * width
        y = y if y >= text_height else round(float(box[1])) + text_height + LABEL_GAP_PER_LINE_WIDTH * width
        cv2.putText(canvas, label, (max(0, x), y), cv2.FONT_HERSHEY_SIMPLEX, scale, color, width, cv2.LINE_AA)
    return canvas
