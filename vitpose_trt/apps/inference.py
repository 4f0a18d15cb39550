"""A `PoseEstimator` run over many frames: boxes per frame in; per frame a `results_stream` record (for
the stream a long run writes as it goes), or COCO keypoint results in memory; timing out.

Shared by `vitpose-infer` (media files) and `vitpose-eval` (a COCO annotation file's images); the
pre/post-processing itself is the estimator's.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np

from ..errors import ConfigError
from .media import Frame
from .results_stream import coco_results, frame_record

#: boxes_for(frame) -> ((N, 4) xywh or (N, 5) xywh + detector score, image px; (N,) int category ids).
BoxesFor = Callable[[Frame], tuple[np.ndarray, np.ndarray]]
#: on_poses(frame, poses) is called after each frame (rendering, writing video).
OnPoses = Callable[[Frame, object], None]
#: on_frame(frame, poses, record) is called after each frame; record: its `results_stream.frame_record`.
OnFrame = Callable[[Frame, object, dict], None]


@dataclass(frozen=True)
class RunSummary:
    """frames / poses processed; seconds: wall time of the whole loop (reading, estimating, drawing,
    writing); estimate_seconds: the part spent inside the estimator; stopped: the run was asked to stop
    before its frames ran out."""

    frames: int
    poses: int
    seconds: float
    estimate_seconds: float
    stopped: bool = False

    @property
    def frames_per_second(self) -> float:
        return self.frames / self.seconds if self.seconds > 0 else 0.0

    @property
    def estimate_frames_per_second(self) -> float:
        return self.frames / self.estimate_seconds if self.estimate_seconds > 0 else 0.0

    def describe(self) -> str:
        return (f"{self.frames} frames, {self.poses} poses in {self.seconds:.2f} s: "
                f"{self.frames_per_second:.2f} frames/s end to end, "
                f"{self.estimate_frames_per_second:.2f} frames/s pose estimation")


def whole_image_boxes(frame: Frame) -> tuple[np.ndarray, np.ndarray]:
    """One box covering the frame: ((1, 4) float64 xywh [0, 0, W, H], (1,) int64 person category)."""
    from .detections import PERSON_CATEGORY

    height, width = frame.image.shape[:2]
    return np.array([[0.0, 0.0, width, height]]), np.array([PERSON_CATEGORY], np.int64)


def detector_boxes(detector) -> BoxesFor:
    """boxes_for(frame) from a `PersonDetector`: its persons as COCO xywh + score rows, person category."""
    from .detections import PERSON_CATEGORY

    def boxes_for(frame: Frame) -> tuple[np.ndarray, np.ndarray]:
        found = detector(frame.image_in(detector.color))
        rows = np.concatenate([found.boxes, found.scores[:, None]], axis=1).astype(np.float64)
        rows[:, 2:4] -= rows[:, 0:2]
        return rows, np.full(len(rows), PERSON_CATEGORY, np.int64)

    return boxes_for


def run_frames(estimator, frames: Iterable[Frame], boxes_for: BoxesFor, on_frame: OnFrame, *,
               stop: Callable[[], bool] | None = None, total: int | None = None,
               progress: bool = True) -> RunSummary:
    """Run `estimator` on every frame's boxes, calling `on_frame(frame, poses, record)` after each, where
    `record` is the frame's `results_stream.frame_record` (its boxes' own categories).

    `stop()` is asked after each frame: when it is true the run ends there, with `RunSummary.stopped`
    set (the next frame is not read). `total` sizes the progress bar.
    """
    from tqdm import tqdm

    poses_count, estimating, start, count = 0, 0.0, time.perf_counter(), 0
    stopped = False
    with tqdm(frames, total=total, unit="frame", disable=not progress, leave=False) as bar:
        for frame in bar:
            boxes, categories = boxes_for(frame)
            began = time.perf_counter()
            poses = estimator(frame.image_in(estimator.color), boxes, box_format="xywh")
            estimating += time.perf_counter() - began
            on_frame(frame, poses, frame_record(frame, poses, categories.tolist()))
            poses_count += len(poses)
            count += 1
            if stop is not None and stop():
                stopped = True
                break
    return RunSummary(count, poses_count, time.perf_counter() - start, estimating, stopped)


def run_video(video, on_frame: Callable[[object, dict], None], *, stop: Callable[[], bool] | None = None,
              total: int | None = None, progress: bool = True) -> RunSummary:
    """Iterate `video` (a `VideoPoses`), calling `on_frame(frame_poses, record)` after each frame, where
    `record` is its results-stream line (with track ids). `stop()` is asked after each frame: when true
    the run ends there (the video's threads are stopped), with `RunSummary.stopped` set. The progress bar
    shows the frames/s as they go; `total` sizes it (None: a live source of unknown length)."""
    from tqdm import tqdm

    poses_count, count, stopped, start = 0, 0, False, time.perf_counter()
    frames = iter(video)
    try:
        with tqdm(total=total, unit="frame", disable=not progress, leave=False) as bar:
            for frame_poses in frames:
                on_frame(frame_poses, frame_poses.record())
                poses_count += len(frame_poses.poses)
                count += 1
                bar.update()
                if stop is not None and stop():
                    stopped = True
                    break
    finally:
        frames.close()  # stops and joins the decoding and detection threads
    return RunSummary(count, poses_count, time.perf_counter() - start, video.stage_seconds["pose"], stopped)


def results_for_frames(estimator, frames: Iterable[Frame], boxes_for: BoxesFor, on_poses: OnPoses | None = None,
                       total: int | None = None, progress: bool = True) -> tuple[list[dict], RunSummary]:
    """Run `estimator` on every frame's boxes; return (COCO keypoint results, RunSummary), in memory.

    Each result is `Poses.to_coco` (image_id, category_id, keypoints [x, y, score] * K, score, bbox)
    plus "file_name" (the frame's name), with the box's own category (`results_stream.coco_results`).
    """
    records = []

    def on_frame(frame, poses, record):
        records.append(record)
        if on_poses is not None:
            on_poses(frame, poses)

    run = run_frames(estimator, frames, boxes_for, on_frame, total=total, progress=progress)
    return coco_results(records), run


def estimator_for(model: str, backend: str = "auto", threads: int | None = None, precision: str | None = None):
    """A `PoseEstimator` for a CLI's MODEL argument (engine, ONNX, OpenVINO IR or checkpoint path, or a model
    name: random weights, with a warning), checking the backend name before anything heavy is imported.
    precision: for backends that choose what they compute in (`PoseEstimator`'s precision=)."""
    from ..runtime.backends import AUTO, BACKENDS

    if backend != AUTO and backend not in BACKENDS:
        raise ConfigError(f"unknown backend {backend!r}; valid: {AUTO}, {', '.join(BACKENDS)}")
    from ..runtime import PoseEstimator

    return PoseEstimator(model, backend=backend, threads=threads, precision=precision)
