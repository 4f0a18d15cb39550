"""COCO keypoint AP/AR of a model, measured as the official top-down evaluation does.

Per image: the ground-truth boxes (or a detector's boxes), the estimator's poses, rescoring (mean
visible keypoint score x box score, `Poses.pose_scores`), OKS NMS at 0.9, then pycocotools' COCOeval
with the keypoint set's sigmas. `metric_differences` compares two models run on the same images and boxes.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import numpy as np

from ..dependencies import import_optional
from ..errors import ConfigError, InputError
from ..geometry import PIXEL_STD, boxes_xyxy, centers_scales_from_boxes
from .coco_annotations import (
    VALUES_PER_KEYPOINT,
    KeypointAnnotations,
    checked_keypoint_count,
    quietly,
)
from .inference import BoxesFor, RunSummary, run_frames
from .oks import DEFAULT_OKS_NMS_THRESHOLD, kept_by_oks_nms
from .results_stream import coco_results

#: pycocotools' value for a metric with nothing to average (e.g. AP of medium persons when there are none).
UNDEFINED = -1.0
#: COCOeval.stats in order: AP over OKS 0.50:0.95, at 0.50, at 0.75, medium, large; then AR likewise.
STAT_NAMES = ("AP", "AP50", "AP75", "APm", "APl", "AR", "AR50", "AR75", "ARm", "ARl")


@dataclass(frozen=True)
class KeypointMetrics:
    """stats: STAT_NAMES -> value (-1 where pycocotools has nothing to average); table: its printed
    summary; run: how many frames/poses were estimated now and how fast; images / poses: how many
    images were scored and poses estimated for them (more than `run`'s when a stopped run was resumed)."""

    stats: dict
    table: str
    run: RunSummary
    images: int
    poses: int

    def to_dict(self) -> dict:
        return {**self.stats, "images": self.images, "poses": self.poses,
                "frames_per_second": self.run.frames_per_second}


def sigmas_for(keypoints) -> np.ndarray:
    """(K,) float64 OKS sigmas of a keypoint set, or `ConfigError` when the set has none (whole-body)."""
    if keypoints.sigmas is None:
        raise ConfigError(f"the {keypoints.name} keypoint set has no OKS sigmas, so COCO keypoint AP is not "
                          "defined for it here; evaluate a coco, aic, mpii, ap10k or apt36k model")
    return np.asarray(keypoints.sigmas, np.float64)


def predicted_results(estimator, annotations: KeypointAnnotations, detections=None,
                      oks_nms_threshold: float | None = DEFAULT_OKS_NMS_THRESHOLD,
                      progress: bool = True) -> tuple[list[dict], RunSummary]:
    """COCO keypoint results of `estimator` on the annotated images, after OKS NMS (None: no NMS).

    Boxes: `detections` (a `Detections`, matched by image id or file name, only the annotations'
    keypoint categories) or, when None, the cleaned ground-truth boxes.
    """
    sigmas = sigmas_for(estimator.keypoints)
    checked_keypoint_count(annotations, estimator.keypoints)
    records = []
    run = run_frames(estimator, annotations.frames(), boxes_for_evaluation(annotations, detections),
                     lambda frame, poses, record: records.append(record), total=len(annotations), progress=progress)
    return nms_results(records, sigmas, oks_nms_threshold), run


def boxes_for_evaluation(annotations: KeypointAnnotations, detections=None) -> BoxesFor:
    """The boxes to run per image: the cleaned ground-truth boxes, or those of `detections` (a
    `Detections`, matched by image id or file name) in the annotations' keypoint categories."""
    if detections is None:
        return annotations.ground_truth_boxes

    def boxes_for(frame):
        boxes, categories = detections.boxes_for(frame.image_id, frame.name)
        wanted = np.isin(categories, sorted(annotations.category_ids))
        return boxes[wanted], categories[wanted]

    return boxes_for


def nms_results(records: list[dict], sigmas, oks_nms_threshold: float | None = DEFAULT_OKS_NMS_THRESHOLD) -> list[dict]:
    """COCO keypoint results of stream records (`results_stream`), each image's poses reduced by OKS NMS
    (None: all kept)."""
    results = coco_results(records)
    if oks_nms_threshold is None:
        return results
    return _oks_nms_per_image(results, np.asarray(sigmas, np.float64), oks_nms_threshold)


def _oks_nms_per_image(results: list[dict], sigmas: np.ndarray, threshold: float) -> list[dict]:
    """`results` with each image's overlapping poses reduced by OKS NMS, areas as the official padded boxes."""
    by_image: dict[int, list[dict]] = {}
    for result in results:
        by_image.setdefault(result["image_id"], []).append(result)
    kept = []
    for group in by_image.values():
        points = np.array([r["keypoints"] for r in group], np.float64).reshape(len(group), -1, VALUES_PER_KEYPOINT)
        _, scales = centers_scales_from_boxes(boxes_xyxy([r["bbox"] for r in group], "xywh"))
        areas = scales.prod(axis=1) * PIXEL_STD**2
        scores = np.array([r["score"] for r in group])
        kept.extend(group[i] for i in kept_by_oks_nms(points[:, :, :2], scores, areas, sigmas, threshold))
    return kept


def keypoint_metrics(annotations: KeypointAnnotations, results: list[dict], sigmas, run: RunSummary,
                     records: list[dict] | None = None) -> KeypointMetrics:
    """pycocotools' keypoint AP/AR of `results` (COCO keypoint results) against the annotations' images:
    all of them, or when the stream `records` are given only theirs (images skipped as unreadable, or
    not yet done, are left out of the scores rather than counted as missed)."""
    if not results:
        raise InputError("no poses to evaluate: no boxes matched the annotated images (check --detections ids/names)")
    cocoeval = import_optional("pycocotools.cocoeval", "COCO keypoint evaluation")
    # loadRes rewrites the dicts it is given (ids, areas, boxes from the keypoints): give it copies.
    predicted, _ = quietly(annotations.coco.loadRes, copy.deepcopy(results))
    evaluator = cocoeval.COCOeval(annotations.coco, predicted, "keypoints")
    evaluator.params.kpt_oks_sigmas = np.asarray(sigmas, np.float64)
    if records is None:
        evaluator.params.imgIds = [image_id for image_id, _ in annotations.images]
    else:
        evaluator.params.imgIds = sorted({r["image_id"] for r in records})
    evaluator.params.catIds = sorted(annotations.category_ids)
    quietly(evaluator.evaluate)
    quietly(evaluator.accumulate)
    _, table = quietly(evaluator.summarize)
    stats = dict(zip(STAT_NAMES, (float(v) for v in evaluator.stats)))
    images, poses = (run.frames, run.poses) if records is None else (
        len(records), sum(len(r["persons"]) for r in records))
    return KeypointMetrics(stats=stats, table=table.rstrip("\n"), run=run, images=images, poses=poses)


def evaluate(estimator, annotations: KeypointAnnotations, detections=None,
             oks_nms_threshold: float | None = DEFAULT_OKS_NMS_THRESHOLD, progress: bool = True) -> KeypointMetrics:
    """COCO keypoint AP/AR of `estimator` (a `PoseEstimator`) on `annotations`; see `predicted_results`."""
    results, run = predicted_results(estimator, annotations, detections, oks_nms_threshold, progress)
    return keypoint_metrics(annotations, results, sigmas_for(estimator.keypoints), run)


def metric_differences(baseline: KeypointMetrics, other: KeypointMetrics) -> dict:
    """STAT_NAMES -> other - baseline (e.g. AP of an int8 engine minus AP of the fp16 one); None where
    either is UNDEFINED."""
    return {name: None if UNDEFINED in (other.stats[name], baseline.stats[name])
            else other.stats[name] - baseline.stats[name] for name in STAT_NAMES}
