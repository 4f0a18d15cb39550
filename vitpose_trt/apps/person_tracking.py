"""`PersonTracker`: stable ids for person boxes across frames, by ByteTrack-style association.

Per detection frame (`update`): every track's box is predicted by its Kalman filter (`box_motion`); the
confident detections (score >= high_score) are matched to the confirmed tracks, lost ones included, by IoU
with one linear assignment; the tracks still unmatched get a second chance with the weak detections
(low_score <= score < high_score: a partly occluded person scores low) at a stricter IoU (low_match_iou).
ByteTrack gives that chance only to tracks seen in the previous frame; giving it to lost tracks too revives
a person who stays partly hidden after a missed detection (benchmarks/video: fewer misses and id switches
on the crowd scenes). Tracks left over become lost, and stay matchable for `max_lost_frames` frames, which
is what keeps an id through a short occlusion. A new track needs a confident detection (>= new_track_score) and is only reported once a
second detection confirms it (tracks of the very first frame are confirmed at once).

Frames without detection (`carry`, for detecting every N frames): the tracked persons' boxes are their
predictions, which `correct` may refine with boxes measured some other way (from the frame's poses).
Numpy + SciPy (the assignment).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from ..errors import ConfigError, InputError
from ..option_checks import fraction, non_negative_int, positive_int
from .box_matching import iou_matrix, matched_pairs
from .box_motion import BoxMotion

#: Defaults: detection score tiers, minimum IoU of the three associations, frames a lost track is kept.
HIGH_SCORE = 0.5
LOW_SCORE = 0.1
NEW_TRACK_SCORE = 0.6
MATCH_IOU = 0.2
LOW_MATCH_IOU = 0.5
UNCONFIRMED_MATCH_IOU = 0.3
MAX_LOST_FRAMES = 30


class TrackedPersons(NamedTuple):
    """The persons a frame reports, by track id: boxes (M, 4) float32 xyxy image px, scores (M,) float32
    (the detection's, or the last one for a carried box), track_ids (M,) int64 (>= 1), detection (M,) int64:
    the row of the frame's detections each came from (-1 for a carried box)."""

    boxes: np.ndarray
    scores: np.ndarray
    track_ids: np.ndarray
    detection: np.ndarray

    @classmethod
    def empty(cls) -> TrackedPersons:
        return cls(np.zeros((0, 4), np.float32), np.zeros(0, np.float32), np.zeros(0, np.int64), np.zeros(0, np.int64))


@dataclass
class _Track:
    track_id: int
    score: float
    last_seen: int
    confirmed: bool
    tracked: bool = True  # False: lost (no match since last_seen)


class PersonTracker:
    """ByteTrack-style multi-person tracker (see the module docstring); one per video.

    high_score / low_score: the two detection tiers; new_track_score: least score that starts a track;
    match_iou / low_match_iou / unconfirmed_match_iou: least IoU between a predicted box and a detection
    in the first (confident), second (weak) and new-track associations; max_lost_frames: frames a lost
    track stays matchable; first_id: the first track id given.
    """

    def __init__(self, high_score: float = HIGH_SCORE, low_score: float = LOW_SCORE,
                 new_track_score: float = NEW_TRACK_SCORE, match_iou: float = MATCH_IOU,
                 low_match_iou: float = LOW_MATCH_IOU, unconfirmed_match_iou: float = UNCONFIRMED_MATCH_IOU,
                 max_lost_frames: int = MAX_LOST_FRAMES, first_id: int = 1):
        high_score, low_score = fraction("high_score", high_score), fraction("low_score", low_score)
        if low_score > high_score:
            raise ConfigError(f"low_score {low_score} must not exceed high_score {high_score}")
        self.high_score, self.low_score = high_score, low_score
        self.new_track_score = fraction("new_track_score", new_track_score)
        self.match_iou, self.low_match_iou = fraction("match_iou", match_iou), fraction("low_match_iou", low_match_iou)
        self.unconfirmed_match_iou = fraction("unconfirmed_match_iou", unconfirmed_match_iou)
        self.max_lost_frames = non_negative_int("max_lost_frames", max_lost_frames)
        self._next_id = positive_int("first_id", first_id)
        self.frame = 0
        self._tracks: list[_Track] = []
        self._motion = BoxMotion.joined([])
        self._matched = np.zeros(0, np.int64)  # per track: its detection row in the last `update`, or -1

    @property
    def next_id(self) -> int:
        """The id the next new track gets."""
        return self._next_id

    def update(self, boxes: np.ndarray, scores: np.ndarray) -> TrackedPersons:
        """Associate one frame's detections (boxes (N, 4) xyxy image px, scores (N,)) with the tracks; return
        the confirmed tracks matched in this frame, by ascending track id."""
        boxes, scores = _checked_detections(boxes, scores)
        self._advance()
        matched = np.full(len(self._tracks), -1, np.int64)  # track row -> detection row
        high = np.flatnonzero(scores >= self.high_score)
        low = np.flatnonzero((scores >= self.low_score) & (scores < self.high_score))
        predicted = self._motion.boxes()
        confirmed = np.array([i for i, t in enumerate(self._tracks) if t.confirmed], np.int64)
        free_high = self._associate(confirmed, high, predicted, boxes, self.match_iou, matched)
        left = np.array([i for i in confirmed if matched[i] < 0], np.int64)
        self._associate(left, low, predicted, boxes, self.low_match_iou, matched)
        unconfirmed = np.array([i for i, t in enumerate(self._tracks) if not t.confirmed], np.int64)
        free_high = self._associate(unconfirmed, free_high, predicted, boxes, self.unconfirmed_match_iou, matched)
        self._apply(matched, boxes, scores)
        self._start_tracks(free_high[scores[free_high] >= self.new_track_score], boxes, scores)
        return self._reported(boxes, scores)

    def carry(self) -> TrackedPersons:
        """A frame without detection: the tracked (not lost) confirmed tracks at their predicted boxes."""
        self._advance()
        rows = [i for i, t in enumerate(self._tracks) if t.confirmed and t.tracked]
        predicted = self._motion.boxes()[rows]
        return TrackedPersons(predicted.astype(np.float32), np.array([self._tracks[i].score for i in rows], np.float32),
                              np.array([self._tracks[i].track_id for i in rows], np.int64), np.full(len(rows), -1))

    def correct(self, track_ids: np.ndarray, boxes: np.ndarray) -> None:
        """Correct the tracks `track_ids` (M,) with boxes (M, 4) xyxy measured in the current frame (e.g. from
        its poses); ids of tracks that no longer exist are ignored."""
        row_of = {t.track_id: i for i, t in enumerate(self._tracks)}
        pairs = [(row_of[int(t)], b) for t, b in zip(track_ids, np.asarray(boxes).reshape(-1, 4)) if int(t) in row_of]
        if pairs:
            self._motion.update(np.array([r for r, _ in pairs]), np.array([b for _, b in pairs]))

    def _advance(self) -> None:
        self.frame += 1
        self._motion.predict(hold_size=np.array([not t.tracked for t in self._tracks], bool))

    @staticmethod
    def _associate(tracks: np.ndarray, detections: np.ndarray, predicted: np.ndarray, boxes: np.ndarray,
                   min_iou: float, matched: np.ndarray) -> np.ndarray:
        """Match track rows to detection rows by IoU, writing matches into `matched`; return the detections left."""
        pairs, _, free = matched_pairs(iou_matrix(predicted[tracks], boxes[detections]), min_iou)
        matched[tracks[pairs[:, 0]]] = detections[pairs[:, 1]]
        return detections[free]

    def _apply(self, matched: np.ndarray, boxes: np.ndarray, scores: np.ndarray) -> None:
        """Update matched tracks, mark the others lost, drop stale and unmatched unconfirmed tracks."""
        rows = np.flatnonzero(matched >= 0)
        self._motion.update(rows, boxes[matched[rows]])
        for row in rows:
            track = self._tracks[row]
            track.score, track.last_seen, track.tracked = float(scores[matched[row]]), self.frame, True
            track.confirmed = True
        for row in np.flatnonzero(matched < 0):
            self._tracks[row].tracked = False
        keep = [i for i, t in enumerate(self._tracks)
                if t.confirmed and self.frame - t.last_seen <= self.max_lost_frames]
        self._tracks = [self._tracks[i] for i in keep]
        self._motion = self._motion.select(np.array(keep, np.int64))
        self._matched = matched[keep]

    def _start_tracks(self, detections: np.ndarray, boxes: np.ndarray, scores: np.ndarray) -> None:
        first_frame = self.frame == 1
        for row in detections:
            self._tracks.append(_Track(self._next_id, float(scores[row]), self.frame, confirmed=first_frame))
            self._next_id += 1
        self._motion = BoxMotion.joined([self._motion, BoxMotion.start(boxes[detections])])
        self._matched = np.concatenate([self._matched, detections if first_frame else np.full(len(detections), -1)])

    def _reported(self, boxes: np.ndarray, scores: np.ndarray) -> TrackedPersons:
        rows = [i for i in np.argsort([t.track_id for t in self._tracks]) if self._matched[i] >= 0]
        if not rows:
            return TrackedPersons.empty()
        detection = self._matched[rows]
        return TrackedPersons(boxes[detection].astype(np.float32), scores[detection].astype(np.float32),
                              np.array([self._tracks[i].track_id for i in rows], np.int64), detection.astype(np.int64))


def _checked_detections(boxes, scores) -> tuple[np.ndarray, np.ndarray]:
    """boxes (N, 4) and scores (N,) as float64, finite; `InputError` otherwise (no box or score may be guessed:
    a NaN box would start a track no later box can match)."""
    try:
        boxes, scores = np.asarray(boxes, np.float64), np.asarray(scores, np.float64)
    except (TypeError, ValueError) as error:
        raise InputError(f"boxes and scores must be numeric arrays: {error}") from None
    if boxes.size == 0 and scores.size == 0:
        return np.zeros((0, 4)), np.zeros(0)
    if boxes.ndim != 2 or boxes.shape[1] != 4:
        raise InputError(f"boxes must be (N, 4) xyxy with their scores apart, got shape {boxes.shape}")
    if scores.ndim != 1 or len(scores) != len(boxes):
        raise InputError(f"{len(boxes)} boxes but scores of shape {scores.shape}: one score per box expected")
    if not (np.isfinite(boxes).all() and np.isfinite(scores).all()):
        raise InputError("boxes and scores must be finite (no NaN or inf)")
    return boxes, scores
