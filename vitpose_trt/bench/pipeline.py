"""Pipeline mode: one image + N person boxes -> keypoints through `PoseEstimator`, end to end and per stage.

`PoseEstimator` has no stage-timing hook, so stages are timed by wrapping the estimator's own stage
callables on the instance (`_crop`, `_infer`, `_flip_merged`, `_heatmap_keypoints`); what is left of a
chunk is "decode_download" (warps, decode, device->host copy) and what is left of a frame is
"validate_map" (input checks, chunking, mapping to image pixels, `Poses`). On a GPU the crop stage also
uploads the image. On the CPU one instrumented loop gives both (a wrapper costs microseconds); on a GPU the
end-to-end loop runs clean and a second loop synchronises the device after each stage.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from ..dependencies import import_optional
from ..errors import InputError
from .memory import PeakHostMemory, device_memory_used_mib
from .model_only import Case, flops_per_crop, result_row
from .roofline import MatmulPeak
from .stats import latency_stats
from .targets import RANDOM_WEIGHTS_NOTE, backend_source, runtime_backend_name
from .timing import HostClock, timed_calls

#: Stage callables wrapped on the estimator instance, and the report's name for each.
WRAPPED_STAGES = {"_crop": "crop", "_infer": "infer", "_flip_merged": "flip_merge"}
CHUNK_STAGE = "_heatmap_keypoints"
STAGE_NOTE = ("stages timed by wrapping PoseEstimator._crop/_infer/_flip_merged (no public stage hook); "
              "decode_download = rest of each chunk, validate_map = rest of the frame")
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
    """Wraps an estimator's stage callables on the instance and collects per-frame stage durations (s)."""

    def __init__(self, estimator, synchronize: Callable[[], None] | None):
        self.frames: list[dict[str, float]] = []
        self._current: dict[str, float] = {}
        self._sync = synchronize or (lambda: None)
        for attr, stage in [*WRAPPED_STAGES.items(), (CHUNK_STAGE, "chunk")]:
            setattr(estimator, attr, self._timed(getattr(estimator, attr), stage))

    def _timed(self, call, stage: str):
        def wrapper(*args, **kwargs):
            start = time.perf_counter()
            out = call(*args, **kwargs)
            self._sync()
            self._current[stage] = self._current.get(stage, 0.0) + time.perf_counter() - start
            return out
        return wrapper

    def frame_done(self, total: float) -> None:
        """Close a frame that took `total` seconds end to end: derive the two remainder stages."""
        t = self._current
        inner = sum(t.get(s, 0.0) for s in WRAPPED_STAGES.values())
        frame = {s: t.get(s, 0.0) for s in WRAPPED_STAGES.values()}
        frame["decode_download"] = max(t.get("chunk", 0.0) - inner, 0.0)
        frame["validate_map"] = max(total - t.get("chunk", 0.0), 0.0)
        self.frames.append(frame)
        self._current = {}

    def stage_stats(self) -> dict[str, dict]:
        return {s: latency_stats([f[s] for f in self.frames]).to_dict() for s in self.frames[0]}


def _cuda_synchronize() -> Callable[[], None]:
    cupy = import_optional("cupy", "GPU pipeline timing")
    return cupy.cuda.Device().synchronize


def _timed_frames(estimator, image, boxes, warmup: int, iters: int, on_step) -> tuple[list[float], StageTimer]:
    """End-to-end frame durations and the stage timer (instrumented loop on CPU; clean + synced loops on GPU)."""
    on_gpu = estimator.backend.device == "cuda"
    if on_gpu:
        seconds = timed_calls(lambda: estimator(image, boxes), warmup, iters, HostClock(), on_step)
        timer = StageTimer(estimator, _cuda_synchronize())
        for _ in range(iters):
            start = time.perf_counter()
            estimator(image, boxes)
            timer.frame_done(time.perf_counter() - start)
        return seconds, timer
    timer = StageTimer(estimator, None)

    def frame() -> None:
        start = time.perf_counter()
        estimator(image, boxes)
        timer.frame_done(time.perf_counter() - start)

    seconds = timed_calls(frame, warmup, iters, HostClock(), on_step)
    timer.frames = timer.frames[warmup:]
    return seconds, timer


def run_pipeline_case(case: Case, *, warmup: int, iters: int, threads: int | None, cache: Path,
                      peak: MatmulPeak | None, on_step: Callable[[], None] | None = None,
                      image: np.ndarray, color: str, image_label: str) -> dict:
    """Time `PoseEstimator` on `image` with `case.batch` persons; return the pipeline result row.

    Latency is per frame, throughput persons/s; FLOPs per person count every crop the estimator runs
    (two with flip test). The estimator may infer all crops (with flip copies) in one call.
    """
    from ..runtime import PoseEstimator
    from ..runtime.estimator import FLIP_COPIES

    crops_per_frame = FLIP_COPIES * case.batch
    loaded_from = backend_source(case.source, case.backend, case.precision, crops_per_frame, cache)
    boxes = person_boxes(image.shape, case.batch)
    gc.collect()
    with PeakHostMemory() as memory:
        estimator = PoseEstimator(loaded_from, backend=runtime_backend_name(case.backend), color=color,
                                  max_batch=crops_per_frame, threads=threads)
        seconds, timer = _timed_frames(estimator, image, boxes, warmup, iters, on_step)
    copies = FLIP_COPIES if estimator.flip_test else 1
    notes = [RANDOM_WEIGHTS_NOTE] if case.source.kind == "name" else []
    notes += [f"image {image_label}, {case.batch} synthetic person boxes (seed {BOXES_SEED})",
              f"flip_test {estimator.flip_test}, decode {estimator.decode}, warp {estimator.warp}", STAGE_NOTE]
    row = result_row(
        case, seconds, warmup=warmup, clock="perf_counter", threads=threads,
        flops_per_item=copies * flops_per_crop(estimator.metadata), peak=peak, memory=memory,
        device_mib=device_memory_used_mib() if estimator.backend.device == "cuda" else None,
        artifact=None if case.backend == "torch" else str(loaded_from), notes=notes, mode="pipeline",
        unit="persons/s",
    )
    row["stages_ms"] = timer.stage_stats()
    return row
