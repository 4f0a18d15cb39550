"""`PoseEstimator`: image + person boxes -> keypoints, with the official top-down test pipeline.

Per call: validate -> warps (boxes -> 2x3 matrices) -> crops -> infer -> flip-merge -> decode -> image
frame. Crops, inference and decode run on the backend's device (numpy on the CPU, CuPy on the GPU);
boxes, warps and the final mapping are tiny and stay on the host.
"""

from __future__ import annotations

import threading
from contextlib import nullcontext

import numpy as np

from ..decode import flip_back, keypoints_from_heatmaps
from ..errors import ConfigError, InferenceError
from ..geometry import image_points_from_heatmap, warps_from_boxes
from ..keypoints import DECODERS
from ..specs import HEATMAP_HEIGHT, HEATMAP_WIDTH, INPUT_HEIGHT, INPUT_WIDTH
from .backends import AUTO, open_backend
from ..preprocess import checked_color
from .devices import array_module_for, crop_stage_for, host_array
from .poses import Poses
from ..validation import checked_boxes, checked_image

#: Flip test runs every crop twice: as it is and mirrored.
FLIP_COPIES = 2


class PoseEstimator:
    """Top-down ViTPose inference on one image at a time; one estimator may serve several threads.

    model_or_path: `.engine`/`.plan` (TensorRT), `.onnx` (ONNX Runtime), a checkpoint path or model name
    or a `ViTPose` module (PyTorch). backend: "auto" (by model_or_path), "torch", "onnxruntime",
    "tensorrt" or "torch-cuda". color: channel order of the images you pass, "bgr" (OpenCV) or "rgb".
    flip_test / decode: None = the keypoint set's official setting (the artifact's metadata); decode is
    one of "argmax", "quarter-offset", "dark", "dark-udp". max_batch: most crops per inference (None: the
    backend's default / the engine's limit); more persons are run in chunks. threads: CPU threads for
    CPU backends (None: the library default).

    Threads: calls from several threads give the same poses as the same calls made one after another.
    On CPU backends (onnxruntime, torch) they run concurrently: every thread gets its own crop stage
    (its own buffers), and ONNX Runtime's `run` and PyTorch inference are thread-safe. GPU backends
    (tensorrt, torch-cuda) reuse device buffers and CUDA graphs across calls, so their calls take turns
    (one lock per estimator); for parallel GPU work, use one estimator per thread.
    """

    def __init__(self, model_or_path, backend: str = AUTO, color: str = "bgr", flip_test: bool | None = None,
                 decode: str | None = None, max_batch: int | None = None, threads: int | None = None):
        # Options first: a typo should not cost loading a model.
        self.color = checked_color(color)
        _checked_flip_test(flip_test, official=False)
        if decode is not None:
            _checked_decode(decode, official=decode)
        self.backend = open_backend(model_or_path, backend, max_batch=max_batch, threads=threads)
        self.metadata = self.backend.metadata
        self.keypoints = self.metadata.keypoints
        pipeline = {**self.keypoints.pipeline_settings(), **self.metadata.pipeline}
        self.warp = pipeline["warp"]
        self.flip_shift = bool(pipeline["flip_shift"])
        self.blur_kernel = int(pipeline["blur_kernel"])
        self.flip_test = _checked_flip_test(flip_test, pipeline["flip_test"])
        self.decode = _checked_decode(decode, pipeline["decode"])
        _check_sizes(self.metadata)
        # Thread-safe backends: one crop stage per thread, no lock. Others: one stage, calls take turns.
        self._thread_stages = threading.local()
        self._thread_stages.stage = crop_stage_for(self.backend.device, color, self.metadata)
        self._shared_stage = None if self.backend.thread_safe else self._thread_stages.stage
        self._turns = nullcontext() if self.backend.thread_safe else threading.Lock()
        self._xp = array_module_for(self.backend.device)
        self._copies = FLIP_COPIES if self.flip_test else 1
        self.persons_per_inference = max(1, self.backend.max_batch // self._copies)

    def __repr__(self) -> str:
        return (f"PoseEstimator({self.backend!r}, warp={self.warp}, flip_test={self.flip_test}, "
                f"decode={self.decode}, color={self.color})")

    def __call__(self, image, boxes, box_format: str = "xyxy") -> Poses:
        """Poses of the N `boxes` in `image`.

        image: (H, W, 3) uint8 in the estimator's color order (numpy; GPU backends also take CuPy /
        DLPack arrays). boxes: (N, 4) xyxy image px, or COCO xywh with box_format="xywh"; an optional
        5th column is the detector score (used by `Poses.to_coco`). N may be 0 (empty Poses).
        """
        image = checked_image(image, self.backend.device)
        boxes, box_scores = checked_boxes(boxes, box_format)
        if len(boxes) == 0:
            return Poses.empty(self.keypoints.num_keypoints)
        with self._turns:
            chunks = [self._heatmap_keypoints(image, boxes[start : start + self.persons_per_inference])
                      for start in range(0, len(boxes), self.persons_per_inference)]
        coords = np.concatenate([c for c, _ in chunks])
        scores = np.concatenate([s for _, s in chunks])
        _check_finite(scores, self.backend)
        points = image_points_from_heatmap(coords, boxes, self.warp, heatmap_size=(HEATMAP_WIDTH, HEATMAP_HEIGHT))
        return Poses(
            keypoints=points.astype(np.float32),
            scores=scores.astype(np.float32),
            boxes=boxes.astype(np.float32),
            box_scores=None if box_scores is None else box_scores.astype(np.float32),
        )

    def _heatmap_keypoints(self, image, boxes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(coords (n, K, 2) heatmap px, scores (n, K)) as host float32 arrays for n <= persons_per_inference."""
        warps = warps_from_boxes(boxes, self.warp)
        crops = self._crop(image, warps, self.flip_test, self._crop_destination(len(boxes)))
        heatmaps = self._infer(crops)
        if self.flip_test:
            heatmaps = self._flip_merged(heatmaps, len(boxes))
        coords, scores = keypoints_from_heatmaps(heatmaps, self.decode, self.blur_kernel, xp=self._xp)
        return host_array(coords), host_array(scores)

    def _crop(self, image, warps: np.ndarray, flip: bool, out=None):
        """Crops through the shared stage, or this thread's own (made on its first call); stages reuse buffers."""
        stage = self._shared_stage or getattr(self._thread_stages, "stage", None)
        if stage is None:
            stage = self._thread_stages.stage = crop_stage_for(self.backend.device, self.color, self.metadata)
        return stage(image, warps, flip, out)

    def _crop_destination(self, count: int):
        """The backend's input buffer when this chunk's crops fit in one inference, else None (stage's own)."""
        if self._copies * count > self.backend.max_batch:
            return None
        return self.backend.input_buffer()

    def _infer(self, crops):
        """Heatmaps of all crops, in slices of max_batch (only max_batch 1 with flip test needs two)."""
        limit = self.backend.max_batch
        if len(crops) <= limit:
            return self.backend.infer(crops)
        # Copy each slice: a backend may reuse its output buffer between calls.
        parts = [self._xp.array(self.backend.infer(crops[i : i + limit]), copy=True)
                 for i in range(0, len(crops), limit)]
        return self._xp.concatenate(parts)

    def _flip_merged(self, heatmaps, count: int):
        """Average of the crops' heatmaps and the flipped-back heatmaps of their mirrored copies."""
        flipped = flip_back(heatmaps[count : 2 * count], self.keypoints.flip_index, self.flip_shift, xp=self._xp)
        return (heatmaps[:count] + flipped) * 0.5


def _check_finite(scores: np.ndarray, backend) -> None:
    """Raise `InferenceError` when a heatmap held NaN or inf (its maximum, the score, is then not finite)."""
    if np.isfinite(scores).all():
        return
    boxes = np.flatnonzero(~np.isfinite(scores).all(axis=1))
    raise InferenceError(
        f"{backend!r} returned NaN or infinite heatmaps for boxes {boxes[:5].tolist()}: the model or engine is "
        "numerically broken (an fp16 engine overflowing?); compare it with its fp32 ONNX (vitpose-eval --compare)"
    )


def _checked_flip_test(flip_test, official: bool) -> bool:
    if flip_test is None:
        return bool(official)
    if not isinstance(flip_test, bool):
        raise ConfigError(f"flip_test must be True, False or None (official setting), got {flip_test!r}")
    return flip_test


def _checked_decode(decode, official: str) -> str:
    method = official if decode is None else decode
    if method not in DECODERS:
        raise ConfigError(f"unknown decode method {method!r}; valid: {', '.join(DECODERS)}")
    return method


def _check_sizes(metadata) -> None:
    if tuple(metadata.input_size) != (INPUT_HEIGHT, INPUT_WIDTH) or tuple(metadata.heatmap_size) != (
        HEATMAP_HEIGHT, HEATMAP_WIDTH
    ):
        raise ConfigError(f"this runtime supports {INPUT_HEIGHT}x{INPUT_WIDTH} inputs and {HEATMAP_HEIGHT}x"
                          f"{HEATMAP_WIDTH} heatmaps; the model has {metadata.input_size} / {metadata.heatmap_size}")
