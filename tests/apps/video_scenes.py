"""Generated videos of moving "persons" that the grid test detector finds where they are painted.

Frames are FRAME_SIZE, the grid detector's input size (tests/detect/detector_models.py), so its boxes are in
frame px as painted. Each figure is one painted grid cell (score and box size encoded in its colours) that
moves from cell to cell; a video written with OpenCV (lossy mp4v) still decodes close enough to those colours
that the detector reports every figure within a few px of its box.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "detect"))
from detector_models import CELL, export_detector, paint_person

FRAME_SIZE = (320, 256)  # width, height
FPS = 10.0
SCORE = 0.9
#: id -> (start cell (row, col), cells moved per frame (rows, cols), box size (w, h) px, frames it is hidden).
#: Figures 1 and 2 cross halfway through WALKING_FRAMES (24) frames; both move a cell (32 px) every 4 frames,
#: slow enough for IoU association across the 3 frames between detections of `detect_every=3`.
FIGURES = {
    1: ((2, 0), (0.0, 0.25), (84.0, 140.0), range(0)),
    2: ((4, 9), (0.0, -0.25), (80.0, 130.0), range(0)),
    3: ((7, 5), (0.0, 0.0), (50.0, 90.0), range(8, 12)),
}


def figure_cells(frames: int, figures: dict = FIGURES) -> list[dict[int, tuple[int, int]]]:
    """Per frame: figure id -> its cell (row, col), for the figures shown (inside the grid, not hidden)."""
    rows, cols = FRAME_SIZE[1] // CELL, FRAME_SIZE[0] // CELL
    cells = []
    for frame in range(frames):
        shown = {}
        for figure, ((row, col), (d_row, d_col), _, hidden) in figures.items():
            cell = (int(row + np.floor(d_row * frame)), int(col + np.floor(d_col * frame)))
            if frame not in hidden and 0 <= cell[0] < rows and 0 <= cell[1] < cols:
                shown[figure] = cell
        cells.append(shown)
    return cells


def scene_frames(frames: int, figures: dict = FIGURES) -> tuple[list[np.ndarray], list[tuple[np.ndarray, np.ndarray]]]:
    """(BGR frames (H, W, 3) uint8, truth per frame: (ids (n,), boxes (n, 4) xyxy frame px))."""
    images, truth = [], []
    for shown in figure_cells(frames, figures):
        rgb = np.zeros((FRAME_SIZE[1], FRAME_SIZE[0], 3), np.uint8)
        ids, boxes = [], []
        for figure, cell in shown.items():
            ids.append(figure)
            boxes.append(paint_person(rgb, cell, SCORE, figures[figure][2]))
        images.append(np.ascontiguousarray(rgb[:, :, ::-1]))
        truth.append((np.array(ids, np.int64), np.array(boxes, np.float64).reshape(-1, 4)))
    return images, truth


def write_video(path: Path, images: list[np.ndarray], fourcc: str = "mp4v") -> Path:
    import cv2

    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*fourcc), FPS, FRAME_SIZE)
    for image in images:
        writer.write(image)
    writer.release()
    return path


def grid_detector(path: Path) -> Path:
    """The YOLO-layout grid detector (256 x 320 input) exported to `path`."""
    return export_detector("yolo", path)
