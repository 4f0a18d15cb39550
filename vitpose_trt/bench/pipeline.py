"""Pipeline mode: one image + N person boxes -> keypoints through `PoseEstimator`, end to end and per stage.

Stages come from the estimator's public `on_stage` hook, summed per frame into the report's stages:
crop (warps, crops; on a GPU also the image upload), infer, flip_merge, decode_download (decode and the
device->host copy) and validate_map (input checks before, mapping to image pixels and `Poses` after). On
the CPU one timed loop gives both (the hook costs microseconds); on a GPU the end-to-end loop runs clean
and a second loop synchronises the device at the end of each stage (`sync_stages`).
"""

from __future__ import annotations

import gc
from collections.abc import Callable
from pathlib import Path

import numpy as np

from ..dependencies import import_optional
from ..errors import InputError
from .memory import PeakHostMemory, device_memory_used_mib
from .model_only import Case, flops_per_crop, result_row
from .roofline import MatmulPeak
from .stats import latency_stats
from .targets import RANDOM_WEIGHTS_NOTE, backend_source, opened_backend
from .timing import HostClock, timed_calls

#: The report's stage for each of the estimator's (`runtime.estimator.STAGES`), in report order.
REPORT_STAGES = {"crop": "crop", "infer": "infer", "flip_merge": "flip_merge", "decode": "decode_download",
                 "validate": "validate_map", "map": "validate_map"}
#: The report's stage for each of the person detector's (`detect.detector.STAGES`), with --detector.
DETECTOR_REPORT_STAGES = {"fit": "detect_fit", "infer": "detect_infer", "decode": "detect_decode_download",
                          "validate": "detect_validate_map", "map": "detect_validate_map"}
DETECTOR_NOTE = ("--detector: each frame runs the detector on the image, then poses on the case's synthetic "
                 "person boxes (so every frame has the same persons whatever the detector finds)")
STAGE_NOTE = ("stages from PoseEstimator's on_stage hook; decode_download = decode + device->host copy, "
              "validate_map = input checks + mapping to image px")
BOXES_SEED = 0
#: Synthetic person boxes: width as a fraction of the image width, height/width ratio.
BOX_WIDTH_FRACTION = (0.15, 0.45)
BOX_ASPECT = (1.5, 2.5)


def image_for_pipeline(path: str | None) -> tuple[np.ndarray, str, str]:
    """(image (H, W, 3) uint8, its color order, a description): the file at `path` (read by OpenCV,
    BGR) or scikit-image's astronaut photo (RGB) when `path` is None. Raises `InputError` if unreadable."""
    if path is None:
        data = import_optional("skimage.data", "the default pipeline image (scikit-image)")
        return np.ascontiguousarray(data.astronaut()), "rgb", "scikit-image astronaut (512x512)"
    cv2 = import_optional("cv2", "reading --image")
    image = cv2.imread(str(path), cv2.IMREAD_COLOR) if Path(path).is_file() else None
    if image is None:
        raise InputError(f"--image {path}: not a readable image file")
    return image, "bgr", f"{Path(path).name} ({image.shape[1]}x{image.shape[0]})"


def person_boxes(image_shape: tuple[int, ...], count: int) -> np.ndarray:
    """`count` seeded person-shaped xyxy boxes (float32, image px) spread over an image of `image_shape`."""
    height, width = image_shape[:2]
    rng = np.random.default_rng(BOXES_SEED)
    w = rng.uniform(*BOX_WIDTH_FRACTION, count) * width
    h = np.minimum(w * rng.uniform(*BOX_ASPECT, count), height)
    x0, y0 = rng.uniform(0, width - w), rng.uniform(0, height - h)
    return np.stack([x0, y0, x0 + w, y0 + h], axis=1).astype(np.float32)


class StageTimer:
    """`on_stage` callback for a `PoseEstimator` (and, as `detector_stage`, a `PersonDetector`): sums each
    frame's stage times (s) into the report's stages."""

    def __init__(self, with_detector: bool = False):
        self.frames: list[dict[str, float]] = []
        self._stages = list(dict.fromkeys([*(DETECTOR_REPORT_STAGES.values() if with_detector else ()),
                                           *REPORT_STAGES.values()]))
        self._current = dict.fromkeys(self._stages, 0.0)

    def __call__(self, stage: str, seconds: float) -> None:
        self._current[REPORT_STAGES[stage]] += seconds

    def detector_stage(self, stage: str, seconds: float) -> None:
        self._current[DETECTOR_REPORT_STAGES[stage]] += seconds

    def frame_done(self) -> None:
        self.frames.append(self._current)
        self._current = dict.fromkeys(self._stages, 0.0)

    def stage_stats(self) -> dict[str, dict]:
        return {s: latency_stats([f[s] for f in self.frames]).to_dict() for s in self.frames[0]}


def _timed_frames(estimator, timer: StageTimer, image, boxes, warmup: int, iters: int, on_step, detector=None):
    """End-to-end frame durations; `timer` holds the stage times of the timed frames.

    On the CPU the stages come from the same loop. On a GPU, stage times need the device synchronised at
    each stage's end (`sync_stages`), which would slow the end-to-end loop: that loop runs without the hook,
    and one more loop collects the stages.
    """
    def clean() -> None:
        if detector is not None:
            detector(image)
        estimator(image, boxes)

    def frame() -> None:
        clean()
        timer.frame_done()

    stages = [(estimator, timer)] + ([(detector, timer.detector_stage)] if detector is not None else [])
    if estimator.backend.device != "cuda":
        for task, hook in stages:
            task.on_stage = hook
        seconds = timed_calls(frame, warmup, iters, HostClock(), on_step)
        timer.frames = timer.frames[warmup:]
        return seconds
    seconds = timed_calls(clean, warmup, iters, HostClock(), on_step)
    for task, hook in stages:
        task.on_stage, task.sync_stages = hook, True
    for _ in range(iters):
        frame()
    return seconds


def run_pipeline_case(case: Case, *, warmup: int, iters: int, threads: int | None, cache: Path,
                      peak: MatmulPeak | None, on_step: Callable[[], None] | None = None,
                      image: np.ndarray, color: str, image_label: str, detector: str | None = None) -> dict:
    """Time `PoseEstimator` on `image` with `case.batch` persons; return the pipeline result row.

    detector: a person detector's .onnx / .engine: each frame also runs it on the image (see DETECTOR_NOTE).

    Latency is per frame, throughput persons/s; FLOPs per person count every crop the estimator runs
    (two with flip test). The estimator may infer all crops (with flip copies) in one call.
    """
    from ..runtime import PoseEstimator
    from ..runtime.estimator import FLIP_COPIES

    crops_per_frame = FLIP_COPIES * case.batch
    loaded_from = backend_source(case.source, case.backend, case.precision, crops_per_frame, cache)
    boxes = person_boxes(image.shape, case.batch)
    gc.collect()
    timer = StageTimer(with_detector=detector is not None)
    with PeakHostMemory() as memory:
        backend = opened_backend(case.backend, loaded_from, case.precision, crops_per_frame, threads)
        estimator = PoseEstimator(backend, color=color)
        person_detector = None if detector is None else _person_detector(detector, color, threads)
        seconds = _timed_frames(estimator, timer, image, boxes, warmup, iters, on_step, person_detector)
    copies = FLIP_COPIES if estimator.flip_test else 1
    notes = [RANDOM_WEIGHTS_NOTE] if case.source.kind == "name" else []
    notes += [f"image {image_label}, {case.batch} synthetic person boxes (seed {BOXES_SEED})",
              f"flip_test {estimator.flip_test}, decode {estimator.decode}, warp {estimator.warp}", STAGE_NOTE]
    notes += [] if person_detector is None else [DETECTOR_NOTE, f"detector {person_detector!r}"]
    row = result_row(
        case, seconds, warmup=warmup, clock="perf_counter", threads=threads,
        flops_per_item=copies * flops_per_crop(estimator.metadata), peak=peak, memory=memory,
        device_mib=device_memory_used_mib() if estimator.backend.device == "cuda" else None,
        artifact=None if case.backend == "torch" else str(loaded_from), notes=notes, mode="pipeline",
        unit="persons/s",
    )
    row["stages_ms"] = timer.stage_stats()
    return row


def _person_detector(path: str, color: str, threads: int | None):
    from ..detect.detector import PersonDetector

    return PersonDetector(path, color=color, threads=threads)
