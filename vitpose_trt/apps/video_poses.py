"""`VideoPoses`: the tracked, smoothed poses of every frame of a video file, folder of frames, camera or stream.

Per frame: detect (every frame, or every `detect_every` frames: in between, the tracker carries the boxes,
corrected by how the previous poses moved) -> track (`PersonTracker`) -> pose (`PoseEstimator` on the
tracked boxes) -> smooth (`PoseSmoother`, per track) -> `FramePoses`.

Threads (pipelined=True): frames are decoded in one background thread and detected in another, each at
most `queue_depth` frames ahead through a bounded queue, while the caller's thread tracks, estimates poses
and smooths; the inference libraries release the GIL, so detection of the next frames overlaps the poses
of this one. On the GPU (both models on CUDA) each frame is uploaded once through pinned memory and the
detection and pose stages run on two CUDA streams (`gpu_overlap.GpuStages`). pipelined=False runs the same
stages one after another in the caller's thread, with the same results.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Container, Iterator
from dataclasses import dataclass, replace

import numpy as np

from ..errors import ConfigError
from ..option_checks import callback, positive_int, positive_number
from ..runtime.poses import Poses
from ..runtime.stage_timing import OnStage
from .live_sources import frame_source
from .media import FALLBACK_FPS, Frame, OnUnreadable
from .one_euro import PoseSmoother
from .person_tracking import PersonTracker, TrackedPersons
from .pipeline_threads import prefetched
from .pose_motion import boxes_moved_by_poses
from .top_down import TopDown

#: Frames each background stage may run ahead of the next one.
QUEUE_DEPTH = 4
#: The stages `on_stage` names ("decode" and "detect" run in their threads; "wait": the caller's thread
#: waiting for a detected frame, pipelined only: run serially, the caller's thread decodes and detects).
STAGES = ("decode", "detect", "wait", "track", "pose", "smooth")


@dataclass(frozen=True)
class FramePoses:
    """One frame's result: `frame` (its image, index, time), `poses` (N persons; box_scores: the detector's),
    `track_ids` (N,) int64 (None without tracking), `detected`: whether the detector ran on this frame."""

    frame: Frame
    poses: Poses
    track_ids: np.ndarray | None
    detected: bool

    @property
    def index(self) -> int | None:
        return self.frame.index

    @property
    def time(self) -> float | None:
        return self.frame.time

    def record(self) -> dict:
        """The frame's line of a results stream (`results_stream.frame_record`), persons as category 1."""
        from .detections import PERSON_CATEGORY
        from .results_stream import frame_record

        tracks = None if self.track_ids is None else self.track_ids.tolist()
        return frame_record(self.frame, self.poses, [PERSON_CATEGORY] * len(self.poses), tracks)


class HostStages:
    """Detection and pose on the images as they come (numpy on the CPU): the stages of a CPU pipeline."""

    def __init__(self, detector, estimator):
        self.detector, self.estimator = detector, estimator

    def prepared(self, frame: Frame, detect: bool):
        """(image for the pose stage, the frame's `Detections` or None, token for `poses`)."""
        image = frame.image_in(self.estimator.color)  # `TopDown` made sure the detector takes the same order
        return image, (self.detector(image) if detect else None), None

    def poses(self, image, token, boxes: np.ndarray) -> Poses:
        return self.estimator(image, boxes)


class VideoPoses:
    """Iterate over it for one `FramePoses` per frame of `source`.

    pipeline: a `vt.TopDown` (its detector and estimator). source: a video file, a folder of frames, a camera
    index, a stream URL (`live_sources.frame_source`), or an opened `MediaSource` / `CaptureSource`.
    track: give persons stable ids (`PersonTracker`; `tracker=` passes a configured one). smooth: One-Euro
    smoothing of each track's keypoints (`PoseSmoother`, `smoother=`); None = on when tracking. detect_every:
    run the detector on every Nth frame only (needs track). fps: frame rate for time stamps of sources
    without any (a folder): None = the source's, else 30. done / on_unreadable: as `MediaSource.frames`.
    on_stage(name, seconds): told the time of every stage (`STAGES`) of every frame, from the stage's thread.
    `stage_seconds` sums them; `frames` counts the frames given out. A `VideoPoses` is iterated once.
    """

    def __init__(self, pipeline, source, *, track: bool = True, smooth: bool | None = None, detect_every: int = 1,
                 tracker: PersonTracker | None = None, smoother: PoseSmoother | None = None, pipelined: bool = True,
                 queue_depth: int = QUEUE_DEPTH, fps: float | None = None, done: Container[str] = (),
                 on_unreadable: OnUnreadable | None = None, on_stage: OnStage | None = None):
        smooth = track if smooth is None else smooth
        detect_every = positive_int("detect_every", detect_every)
        if detect_every > 1 and not track:
            raise ConfigError("detect_every > 1 needs track=True: the tracker carries the boxes between detections")
        if smooth and not track:
            raise ConfigError("smooth=True needs track=True: keypoints are smoothed along each track")
        queue_depth = positive_int("queue_depth", queue_depth)
        fps = None if fps is None else positive_number("fps", fps, "frames/s")
        for name, value, kind in (("tracker", tracker, PersonTracker), ("smoother", smoother, PoseSmoother)):
            if value is not None and not isinstance(value, kind):
                raise ConfigError(f"{name} must be a vt.{kind.__name__} or None, got {value!r}")
        self.on_stage = callback("on_stage", on_stage, "stage name, seconds")
        self.on_unreadable = callback("on_unreadable", on_unreadable, "file name, reason")
        if not isinstance(pipeline, TopDown):
            raise ConfigError(f"pipeline must be a vt.TopDown (a PersonDetector, then a PoseEstimator), "
                              f"got {pipeline!r}")
        self.pipeline = pipeline
        self.source = source if hasattr(source, "frames") else frame_source(source)
        self.track, self.smooth, self.detect_every = track, smooth, detect_every
        self.tracker = (tracker or PersonTracker()) if track else None
        self.smoother = (smoother or PoseSmoother()) if smooth else None
        self.pipelined, self.queue_depth = pipelined, queue_depth
        self.fps = fps or getattr(self.source, "fps", None) or FALLBACK_FPS
        self.done = done
        self.stage_seconds = dict.fromkeys(STAGES, 0.0)
        self.frames = 0
        self._lock = threading.Lock()
        self._stages = _stages_for(pipeline.detector, pipeline.estimator, queue_depth)
        self._last: dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}  # track id -> box, keypoints, scores
        self._started = False

    def __repr__(self) -> str:
        return (f"VideoPoses({self.pipeline!r}, track={self.track}, smooth={self.smooth}, "
                f"detect_every={self.detect_every}, pipelined={self.pipelined})")

    def __iter__(self) -> Iterator[FramePoses]:
        if self._started:
            raise ConfigError("a VideoPoses runs once (its tracker and smoother hold the video's state): make a new one")
        self._started = True
        frames = self._timed(self.source.frames(self.done, self.on_unreadable), "decode")
        if self.pipelined:
            frames = prefetched(frames, self.queue_depth, "vitpose-decode")
        detected = self._detected(frames)
        if self.pipelined:
            detected = prefetched(detected, self.queue_depth, "vitpose-detect")
        try:
            for frame, prepared in (self._timed(detected, "wait") if self.pipelined else detected):
                yield self._frame_poses(frame, prepared)
                self.frames += 1
        finally:
            detected.close()

    def _stage(self, name: str, seconds: float) -> None:
        with self._lock:
            self.stage_seconds[name] += seconds
        if self.on_stage is not None:
            self.on_stage(name, seconds)

    def _timed(self, items, name: str):
        """`items`, the time spent getting each one reported as stage `name`."""
        iterator = iter(items)
        try:
            while True:
                start = time.perf_counter()
                try:
                    item = next(iterator)
                except StopIteration:
                    return
                self._stage(name, time.perf_counter() - start)
                yield item
        finally:
            getattr(iterator, "close", lambda: None)()

    def _detected(self, frames):
        """(frame, prepared) per frame: the detector runs on every `detect_every`-th frame of the run."""
        try:
            for count, frame in enumerate(frames):
                start = time.perf_counter()
                prepared = self._stages.prepared(frame, count % self.detect_every == 0)
                self._stage("detect", time.perf_counter() - start)
                yield frame, prepared
        finally:
            frames.close()

    def _frame_poses(self, frame: Frame, prepared) -> FramePoses:
        image, found, token = prepared
        start = time.perf_counter()
        persons = self._persons(found)
        self._stage("track", time.perf_counter() - start)
        start = time.perf_counter()
        boxes = np.concatenate([persons.boxes, persons.scores[:, None]], axis=1)
        poses = self._stages.poses(image, token, boxes)
        self._stage("pose", time.perf_counter() - start)
        if not self.track:
            return FramePoses(frame, poses, None, True)
        start = time.perf_counter()
        if found is None:
            self._correct_carried(persons, poses)
        self._remember(persons.track_ids, poses)
        self._stage("track", time.perf_counter() - start)
        if self.smooth:
            start = time.perf_counter()
            when = frame.time if frame.time is not None else (frame.index or 0) / self.fps
            poses = replace(poses, keypoints=self.smoother(poses.keypoints, poses.boxes, persons.track_ids, when))
            self._stage("smooth", time.perf_counter() - start)
        return FramePoses(frame, poses, persons.track_ids, found is not None)

    def _persons(self, found) -> TrackedPersons:
        if not self.track:
            return TrackedPersons(found.boxes, found.scores, np.zeros(0, np.int64), np.arange(len(found.boxes)))
        if found is None:
            return self.tracker.carry()
        return self.tracker.update(found.boxes, found.scores)

    def _correct_carried(self, persons: TrackedPersons, poses: Poses) -> None:
        """Move the carried boxes by how their keypoints moved since the last frame, and tell the tracker."""
        known = [i for i, t in enumerate(persons.track_ids.tolist()) if t in self._last]
        if not known:
            return
        before = [self._last[int(persons.track_ids[i])] for i in known]
        moved, measured = boxes_moved_by_poses(np.array([b for b, _, _ in before]), np.array([k for _, k, _ in before]),
                                               np.array([s for _, _, s in before]), poses.keypoints[known],
                                               poses.scores[known])
        self.tracker.correct(persons.track_ids[known][measured], moved[measured])

    def _remember(self, track_ids: np.ndarray, poses: Poses) -> None:
        """Keep each track's box and keypoints of this frame (raw, not smoothed) for the next frame."""
        self._last = {int(t): (poses.boxes[i], poses.keypoints[i], poses.scores[i]) for i, t in enumerate(track_ids)}


def _stages_for(detector, estimator, queue_depth: int):
    """GPU stages (two CUDA streams, pinned uploads) when both models run on CUDA, else `HostStages`."""
    if detector.backend.device == "cuda" and estimator.backend.device == "cuda":
        from .gpu_overlap import GpuStages

        return GpuStages(detector, estimator, queue_depth)
    return HostStages(detector, estimator)
