"""Detector outputs -> boxes, scores and classes per image, on numpy or CuPy (`xp`): score filter, class filter,
NMS where the layout needs it, and the per-image cap. Only the kept boxes go to the host.

Each layout follows the tool that exports it (see `artifacts.detector_settings`):
- "yolo" as Ultralytics' non_max_suppression: a box's class is its best-scoring class over all classes; kept
  when that score > threshold and the class is asked for; class-aware NMS (IoU > iou_threshold suppresses);
- "yolo-end2end": score > threshold and class asked for; no NMS (the model did it);
- "detr" as transformers' post_process_object_detection: sigmoid scores, the top Q (query, class) pairs over
  all Q x C, kept when score > threshold and the class is asked for; no NMS.
Boxes come out xyxy in input px (DETR's normalised boxes are scaled by the input size).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..artifacts.detector_settings import DetectorSettings
from .nms import kept_by_nms, ranking

#: Most candidates per image that NMS considers (the highest-scoring; Ultralytics allows 30000, which the
#: (K x K) overlap matrix here cannot hold; images rarely have more than a few hundred above threshold).
MAX_NMS_CANDIDATES = 1000
#: Class-aware NMS shifts each class's boxes this far apart (Ultralytics' max_wh).
CLASS_OFFSET_PX = 7680.0


@dataclass(frozen=True)
class Candidates:
    """Padded per-image candidates: boxes (B, K, 4) xyxy input px, scores (B, K), classes (B, K) int,
    valid (B, K) bool (False rows are padding or below threshold)."""

    boxes: object
    scores: object
    classes: object
    valid: object


@dataclass(frozen=True)
class ImageDetections:
    """One image's kept detections on the host: boxes (N, 4) float32 xyxy input px, scores (N,) float32,
    classes (N,) int64, highest score first."""

    boxes: np.ndarray
    scores: np.ndarray
    classes: np.ndarray


def candidates_from_outputs(outputs: dict, settings: DetectorSettings, classes, score_threshold: float,
                            xp=np) -> Candidates:
    """The candidates of a batch from the model's `outputs` (name -> (B, ...) array) in `settings.layout`."""
    wanted = xp.asarray(np.asarray(classes, dtype=np.int64))
    if settings.layout == "yolo":
        return _yolo(outputs[settings.output("predictions")], wanted, score_threshold, xp)
    if settings.layout == "yolo-end2end":
        rows = outputs[settings.output("detections")].astype(xp.float32)
        labels = rows[..., 5].astype(xp.int64)
        scores = rows[..., 4]
        return Candidates(rows[..., :4], scores, labels, (scores > score_threshold) & xp.isin(labels, wanted))
    return _detr(outputs[settings.output("logits")], outputs[settings.output("boxes")], settings.input_size, wanted,
                 score_threshold, xp)


def _yolo(predictions, wanted, score_threshold: float, xp) -> Candidates:
    rows = predictions.astype(xp.float32, copy=False)  # (B, 4 + C, A): reduced in place, never transposed
    class_scores = rows[:, 4:]
    scores, labels = class_scores.max(axis=1), class_scores.argmax(axis=1)
    valid = (scores > score_threshold) & xp.isin(labels, wanted)
    # NMS compares every pair: keep only as many ranked candidates as the fullest image has (one small sync).
    count = min(int(valid.sum(axis=1).max()), MAX_NMS_CANDIDATES) if valid.size else 0
    top = ranking(xp.where(valid, scores, -xp.inf), xp)[:, :count]
    boxes = _corners(xp.take_along_axis(rows[:, :4], top[:, None, :], axis=2).transpose(0, 2, 1), xp)
    pick = lambda values: xp.take_along_axis(values, top, axis=1)  # noqa: E731
    return Candidates(boxes, pick(scores), pick(labels), pick(valid))


def _detr(logits, boxes, input_size: tuple[int, int], wanted, score_threshold: float, xp) -> Candidates:
    queries, num_classes = logits.shape[1], logits.shape[2]
    probabilities = 1.0 / (1.0 + xp.exp(-logits.astype(xp.float32).reshape(len(logits), -1)))
    top = ranking(probabilities, xp)[:, :queries]
    scores, labels = xp.take_along_axis(probabilities, top, axis=1), top % num_classes
    picked = xp.take_along_axis(boxes.astype(xp.float32), (top // num_classes)[:, :, None], axis=1)
    height, width = input_size
    corners = _corners(picked * xp.asarray(np.array([width, height, width, height], np.float32)), xp)
    return Candidates(corners, scores, labels, (scores > score_threshold) & xp.isin(labels, wanted))


def _corners(centred, xp):
    """(..., 4) cx, cy, w, h -> x1, y1, x2, y2."""
    half = centred[..., 2:] * 0.5
    return xp.concatenate([centred[..., :2] - half, centred[..., :2] + half], axis=-1)


def image_detections(candidates: Candidates, iou_threshold: float | None, max_detections: int,
                     xp=np) -> list[ImageDetections]:
    """Each image's detections after NMS (unless `iou_threshold` is None) and the `max_detections` cap."""
    keep = candidates.valid
    if iou_threshold is not None:
        shifted = candidates.boxes + (candidates.classes[..., None] * CLASS_OFFSET_PX).astype(xp.float32)
        keep = kept_by_nms(shifted, candidates.scores, keep, iou_threshold, xp)
    order = ranking(xp.where(keep, candidates.scores, -xp.inf), xp)[:, :max_detections]
    kept = xp.take_along_axis(keep, order, axis=1)
    rows, columns = xp.nonzero(kept)
    picked = order[rows, columns]
    gathered = [_host(values[rows, picked]) for values in (candidates.boxes, candidates.scores, candidates.classes)]
    image_of = _host(rows)
    return [ImageDetections(gathered[0][image_of == i].astype(np.float32), gathered[1][image_of == i].astype(np.float32),
                            gathered[2][image_of == i].astype(np.int64)) for i in range(len(keep))]


def _host(array) -> np.ndarray:
    return array if isinstance(array, np.ndarray) else array.get()
