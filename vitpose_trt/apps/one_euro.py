"""Keypoint smoothing: the One-Euro filter (Casiez, Roussel & Vogel, CHI 2012), vectorised, one per track.

A One-Euro filter is a first-order low-pass filter whose cutoff frequency rises with the signal's speed:
at rest it cuts jitter hard (cutoff `min_cutoff` Hz), in fast motion it follows closely (cutoff grows by
`beta` per unit of speed), so it trades jitter for lag only where lag would show. The speed itself is
low-passed at `d_cutoff` Hz. Here speed is measured in person heights per second (`scale`), so one `beta`
fits persons near and far. Tuning: lower min_cutoff until the still pose stops shaking, then raise beta
until fast moves stop lagging. Pure numpy.
"""

from __future__ import annotations

import math

import numpy as np

from ..errors import InputError
from ..option_checks import non_negative_number, positive_number

#: Defaults (see benchmarks/video/README.md for the jitter and lag they give on a noisy walking figure).
MIN_CUTOFF_HZ = 1.0
BETA = 3.0
D_CUTOFF_HZ = 1.0
#: Time step assumed when two samples carry the same time stamp (a source without time stamps).
FALLBACK_STEP_S = 1.0 / 30.0


def smoothing_factor(cutoff_hz: np.ndarray | float, step_s: float) -> np.ndarray | float:
    """The exponential smoothing factor of a first-order low-pass filter with this cutoff, sampled every step_s."""
    tau = 1.0 / (2.0 * math.pi * np.asarray(cutoff_hz))
    return 1.0 / (1.0 + tau / step_s)


class OneEuroFilter:
    """One-Euro filter over arrays of one shape (..., D): the last axis holds one point's coordinates (x, y),
    whose speed sets that point's cutoff.

    min_cutoff: cutoff at rest (Hz); beta: cutoff gained per person height per second of speed; d_cutoff:
    cutoff of the speed estimate (Hz). The first call returns its input; later calls need increasing times.
    """

    def __init__(self, min_cutoff: float = MIN_CUTOFF_HZ, beta: float = BETA, d_cutoff: float = D_CUTOFF_HZ):
        self.min_cutoff = positive_number("min_cutoff", min_cutoff, "Hz")
        self.beta = non_negative_number("beta", beta)
        self.d_cutoff = positive_number("d_cutoff", d_cutoff, "Hz")
        self.reset()

    def reset(self) -> None:
        """Forget the past: the next call starts afresh."""
        self._value: np.ndarray | None = None
        self._speed: np.ndarray | None = None
        self._time: float | None = None

    def __call__(self, values: np.ndarray, time_s: float, scale: float = 1.0) -> np.ndarray:
        """The filtered `values` (float64, same shape) at `time_s` seconds; `scale`: the length (px) speeds are
        measured in, e.g. the person's height."""
        values = np.asarray(values, np.float64)
        if self._value is None or self._value.shape != values.shape:
            self._value, self._speed, self._time = values.copy(), np.zeros_like(values), float(time_s)
            return values.copy()
        step = float(time_s) - self._time
        step = step if step > 0 else FALLBACK_STEP_S
        velocity = (values - self._value) / step
        self._speed = self._speed + smoothing_factor(self.d_cutoff, step) * (velocity - self._speed)
        speed = np.linalg.norm(self._speed, axis=-1, keepdims=True) / max(float(scale), 1e-6)
        alpha = smoothing_factor(self.min_cutoff + self.beta * speed, step)
        self._value = self._value + alpha * (values - self._value)
        self._time = float(time_s)
        return self._value.copy()


class PoseSmoother:
    """One `OneEuroFilter` per track over its (K, 2) keypoints; a track missing from a frame (lost, or gone)
    loses its filter, so it starts afresh when it comes back. Parameters: `OneEuroFilter`'s."""

    def __init__(self, min_cutoff: float = MIN_CUTOFF_HZ, beta: float = BETA, d_cutoff: float = D_CUTOFF_HZ):
        self._settings = {"min_cutoff": min_cutoff, "beta": beta, "d_cutoff": d_cutoff}
        OneEuroFilter(**self._settings)  # checks them now
        self._filters: dict[int, OneEuroFilter] = {}

    def __call__(self, keypoints: np.ndarray, boxes: np.ndarray, track_ids: np.ndarray, time_s: float) -> np.ndarray:
        """Smoothed (N, K, 2) float32 keypoints of one frame's N tracked persons: keypoints (N, K, 2) image px,
        boxes (N, 4) xyxy (their heights scale the speeds), track_ids (N,)."""
        keypoints, boxes, track_ids = np.asarray(keypoints, np.float32), np.asarray(boxes), np.asarray(track_ids)
        if keypoints.ndim != 3 or keypoints.shape[2] != 2 or boxes.shape != (len(keypoints), 4) or \
                track_ids.shape != (len(keypoints),):
            raise InputError(f"keypoints (N, K, 2), boxes (N, 4) and track_ids (N,) expected, got shapes "
                             f"{keypoints.shape}, {boxes.shape} and {track_ids.shape}")
        smoothed = np.empty_like(keypoints)
        filters = {}
        for row, track in enumerate(track_ids.tolist()):
            one = self._filters.get(track) or OneEuroFilter(**self._settings)
            height = float(boxes[row][3] - boxes[row][1])
            smoothed[row] = one(keypoints[row], time_s, scale=height)
            filters[track] = one
        self._filters = filters
        return smoothed

    def __len__(self) -> int:
        """Tracks with a filter now."""
        return len(self._filters)
