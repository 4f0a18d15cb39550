"""A constant-velocity Kalman filter for person boxes, the motion model of the tracker.

State per box: (cx, cy, w, h, vx, vy, vw, vh): centre, size and their velocities in image px and px per
frame. Noise scales with the box height, so one setting serves near and far persons. Pure numpy.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

STATE_SIZE = 8
MEASURE_SIZE = 4
#: Standard deviations as fractions of the box height: of a measured box, of the position / size change
#: the model cannot predict in a frame, and of the velocity change in a frame.
MEASUREMENT_STD = 1.0 / 20.0
POSITION_STD = 1.0 / 20.0
VELOCITY_STD = 1.0 / 160.0
#: Initial velocity uncertainty of a new track, as a multiple of VELOCITY_STD.
INITIAL_VELOCITY_SPREAD = 10.0
#: Smallest box height used to scale the noise (px): keeps a degenerate box from collapsing the filter.
MIN_HEIGHT = 1.0

_TRANSITION = np.eye(STATE_SIZE)
_TRANSITION[:MEASURE_SIZE, MEASURE_SIZE:] = np.eye(MEASURE_SIZE)
_OBSERVATION = np.eye(MEASURE_SIZE, STATE_SIZE)


def centre_size(boxes: np.ndarray) -> np.ndarray:
    """(N, 4) xyxy -> (N, 4) float64 (cx, cy, w, h)."""
    boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
    size = boxes[:, 2:] - boxes[:, :2]
    return np.concatenate([boxes[:, :2] + size / 2, size], axis=1)


def corners(centre_sizes: np.ndarray) -> np.ndarray:
    """(N, 4) (cx, cy, w, h) -> (N, 4) float64 xyxy."""
    centre_sizes = np.asarray(centre_sizes, np.float64).reshape(-1, 4)
    half = np.abs(centre_sizes[:, 2:]) / 2
    return np.concatenate([centre_sizes[:, :2] - half, centre_sizes[:, :2] + half], axis=1)


def _stds(heights: np.ndarray, position: float, velocity: float) -> np.ndarray:
    """(N, 8) standard deviations for boxes of these heights."""
    h = np.maximum(np.asarray(heights, np.float64), MIN_HEIGHT)[:, None]
    return np.concatenate([np.repeat(position * h, MEASURE_SIZE, 1), np.repeat(velocity * h, MEASURE_SIZE, 1)], 1)


@dataclass
class BoxMotion:
    """Kalman states of N boxes: mean (N, 8), covariance (N, 8, 8); see the module docstring."""

    mean: np.ndarray
    covariance: np.ndarray

    @classmethod
    def start(cls, boxes: np.ndarray) -> BoxMotion:
        """States at rest at `boxes` (N, 4) xyxy, velocity unknown."""
        measured = centre_size(boxes)
        mean = np.concatenate([measured, np.zeros_like(measured)], axis=1)
        stds = _stds(measured[:, 3], 2 * MEASUREMENT_STD, INITIAL_VELOCITY_SPREAD * VELOCITY_STD)
        return cls(mean, np.einsum("ni,ij->nij", stds**2, np.eye(STATE_SIZE)))

    def __len__(self) -> int:
        return len(self.mean)

    def boxes(self) -> np.ndarray:
        """(N, 4) float64 xyxy of the current estimates."""
        return corners(self.mean[:, :MEASURE_SIZE])

    def predict(self, frames: float = 1.0, hold_size: np.ndarray | None = None) -> None:
        """Advance every state by `frames` frames. hold_size: (N,) bool, states whose size stops changing
        (a lost track: nothing corrects its size, so it must not grow or shrink without bound)."""
        if hold_size is not None:
            self.mean[hold_size, MEASURE_SIZE + 2 :] = 0.0
        transition = _TRANSITION.copy()
        transition[:MEASURE_SIZE, MEASURE_SIZE:] *= frames
        noise = _stds(self.mean[:, 3], POSITION_STD, VELOCITY_STD) ** 2 * frames
        self.mean = self.mean @ transition.T
        self.covariance = transition @ self.covariance @ transition.T + np.einsum("ni,ij->nij", noise, np.eye(STATE_SIZE))

    def update(self, rows: np.ndarray, boxes: np.ndarray) -> None:
        """Correct the states `rows` (M,) int with measured `boxes` (M, 4) xyxy."""
        if len(rows) == 0:
            return
        measured = centre_size(boxes)
        mean, covariance = self.mean[rows], self.covariance[rows]
        noise = _stds(mean[:, 3], MEASUREMENT_STD, 0.0)[:, :MEASURE_SIZE] ** 2
        projected = covariance[:, :MEASURE_SIZE, :MEASURE_SIZE] + np.einsum("ni,ij->nij", noise, np.eye(MEASURE_SIZE))
        cross = covariance[:, :, :MEASURE_SIZE]  # P H^T
        gain = np.linalg.solve(projected, np.swapaxes(cross, 1, 2)).swapaxes(1, 2)  # (M, 8, 4)
        innovation = measured - mean[:, :MEASURE_SIZE]
        self.mean[rows] = mean + np.einsum("nij,nj->ni", gain, innovation)
        self.covariance[rows] = covariance - gain @ np.swapaxes(cross, 1, 2)

    def select(self, rows: np.ndarray) -> BoxMotion:
        """The states `rows` (a copy)."""
        return BoxMotion(self.mean[rows].copy(), self.covariance[rows].copy())

    @classmethod
    def joined(cls, parts: list[BoxMotion]) -> BoxMotion:
        """All states of `parts`, in order."""
        if not parts:
            return cls(np.zeros((0, STATE_SIZE)), np.zeros((0, STATE_SIZE, STATE_SIZE)))
        return cls(np.concatenate([p.mean for p in parts]), np.concatenate([p.covariance for p in parts]))
