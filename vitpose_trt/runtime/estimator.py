"""`PoseEstimator`: images + person boxes -> keypoints, with the official top-down test pipeline.

Per call, as named stages (`STAGES`, observable through `on_stage`): validate -> crop (boxes -> warps ->
crops, on the GPU including the image upload) -> infer -> flip_merge -> decode (heatmaps -> heatmap-px
keypoints, and the device -> host copy) -> map (back to image px, `Poses`). Crops, inference and decode
run on the backend's device (numpy on the CPU, CuPy on the GPU); boxes, warps and the final mapping are
tiny and stay on the host. The backend is task-agnostic: this class finds the crops and heatmaps tensors
by the names in the artifact's pose settings.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from contextlib import nullcontext

import numpy as np

from ..decode import flip_back, keypoints_from_heatmaps
from ..errors import ConfigError, InferenceError, InputError
from ..geometry import image_points_from_heatmap, warps_from_boxes
from ..keypoints import DECODERS
from ..preprocess import checked_color
from ..validation import checked_boxes, checked_image, listed
from .backends import AUTO, open_backend
from .devices import array_module_for, crop_stage_for, host_array
from .person_chunks import Segment, chunks_of_persons
from .pose_model import pose_metadata_for
from .poses import Poses
from .stage_timing import OnStage, StageClock, StageTimed
from .thread_stages import StagePerThread

#: Flip test runs every crop twice: as it is and mirrored.
FLIP_COPIES = 2
#: The stages a call goes through, in order, as `on_stage` names them (crop..decode once per chunk).
STAGES = ("validate", "crop", "infer", "flip_merge", "decode", "map")


class PoseEstimator(StageTimed):
    """Top-down ViTPose inference; one estimator may serve several threads.

    model_or_path: `.engine`/`.plan` (TensorRT), `.onnx` (ONNX Runtime), an OpenVINO IR `.xml` (OpenVINO),
    a checkpoint path or model name or a `ViTPose` module (PyTorch), or a loaded pose `Backend`
    (`runtime.backends.open_backend`). backend: "auto" (by model_or_path), "torch", "onnxruntime",
    "tensorrt", "torch-cuda" or "openvino". precision: only for backends that choose what they compute in:
    openvino "fp32" (default) or "bf16" (on CPUs with AVX512-BF16 or AMX), torch-cuda "fp16" (default) or
    "fp32"; other backends run the file's own precision and refuse it. color: channel order of the images you pass, "bgr" (OpenCV) or "rgb".
    flip_test / decode: None = the keypoint set's official setting (the artifact's metadata); decode is
    one of "argmax", "quarter-offset", "dark", "dark-udp". max_batch: most crops per inference (None: the
    backend's default / the engine's limit); more persons are run in chunks. threads: CPU threads for
    CPU backends (None: the library default).

    on_stage: optional `on_stage(stage, seconds)` callback, called after each stage of every call with
    its wall time (stage names: `STAGES`; crop..decode once per chunk of persons), in the calling thread.
    Both are attributes too: assign `est.on_stage` / `est.sync_stages` later to start or stop timing.
    sync_stages: on GPU backends, wait for the device at the end of each timed stage so that its time is
    the device's too (slower: it removes the overlap between stages); ignored on the CPU.

    Threads: calls from several threads give the same poses as the same calls made one after another.
    On CPU backends (onnxruntime, openvino, torch) they run concurrently: every thread gets its own crop stage
    (its own buffers), and ONNX Runtime's `run` and PyTorch inference are thread-safe. GPU backends
    (tensorrt, torch-cuda) reuse device buffers and CUDA graphs across calls, so their calls take turns
    (one lock per estimator); for parallel GPU work, use one estimator per thread.
    """

    def __init__(self, model_or_path, backend: str = AUTO, color: str = "bgr", flip_test: bool | None = None,
                 decode: str | None = None, max_batch: int | None = None, threads: int | None = None,
                 on_stage: OnStage | None = None, sync_stages: bool = False, precision: str | None = None):
        # Options first: a typo should not cost loading a model.
        self.color = checked_color(color)
        _checked_flip_test(flip_test, official=False)
        if decode is not None:
            _checked_decode(decode, official=decode)
        self._clock = StageClock(on_stage)  # checks the callback before a model is loaded
        self.backend = open_backend(model_or_path, backend, max_batch=max_batch, threads=threads, precision=precision)
        self.metadata = pose_metadata_for(self.backend)
        self.settings = settings = self.metadata.pose
        self.keypoints = settings.keypoints
        self.warp, self.flip_shift, self.blur_kernel = settings.warp, settings.flip_shift, settings.blur_kernel
        self.flip_test = _checked_flip_test(flip_test, settings.flip_test)
        self.decode = _checked_decode(decode, settings.decode)
        self._input = self.backend.io.input(settings.input_name)
        self._xp = array_module_for(self.backend.device)
        self.sync_stages = sync_stages
        # Thread-safe backends: one crop stage per thread, no lock. Others: one stage, calls take turns.
        self._stages = StagePerThread(lambda: crop_stage_for(self.backend.device, color, settings),
                                      shared=not self.backend.thread_safe)
        self._turns = nullcontext() if self.backend.thread_safe else threading.Lock()
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
        return self.batch([image], [boxes], box_format)[0]

    def batch(self, images: Sequence, boxes: Sequence, box_format: str = "xyxy") -> list[Poses]:
        """Poses of several images at once: `boxes[i]` are the boxes of `images[i]` (as in `__call__`).

        The crops of all images share inferences (chunks of `persons_per_inference` persons), so many
        images with few persons each run as full batches. Returns one `Poses` per image, in order.
        """
        images, boxes = listed(images, "images"), listed(boxes, "boxes")
        if len(images) != len(boxes):
            raise InputError(f"{len(images)} images but {len(boxes)} box arrays: pass one box array per image")
        with self._clock("validate"):
            images = [checked_image(image, self.backend.device) for image in images]
            checked = [checked_boxes(b, box_format) for b in boxes]
        all_boxes = [b for b, _ in checked]
        with self._turns:
            parts = [self._chunk_keypoints(images, chunk)
                     for chunk in chunks_of_persons(all_boxes, self.persons_per_inference)]
        with self._clock("map"):
            return self._poses_per_image(parts, checked)

    def _chunk_keypoints(self, images: list, chunk: list[Segment]) -> tuple[np.ndarray, np.ndarray]:
        """(coords (n, K, 2) heatmap px, scores (n, K)) as host float32 arrays for the n persons of `chunk`."""
        count = sum(len(segment.boxes) for segment in chunk)
        with self._clock("crop"):
            crops = self._crops(images, chunk, count)
        with self._clock("infer"):
            heatmaps = self._heatmaps(crops)
        if self.flip_test:
            with self._clock("flip_merge"):
                heatmaps = self._flip_merged(heatmaps, count)
        with self._clock("decode"):
            coords, scores = keypoints_from_heatmaps(heatmaps, self.decode, self.blur_kernel, xp=self._xp)
            return host_array(coords), host_array(scores)

    def _crops(self, images: list, chunk: list[Segment], count: int):
        """(copies * count, 3, 256, 192) crops of the chunk's persons, mirrored copies after all originals;
        in the backend's input buffer when they fit in one inference."""
        stage = self._stages.get()
        crops = stage.batch(self._copies * count, self._crop_destination(count))
        row = 0
        input_width_height = tuple(reversed(self.settings.input_size))
        for segment in chunk:
            warps = warps_from_boxes(segment.boxes, self.warp, size=input_width_height)
            stage.write(images[segment.image_index], warps, crops, row, count + row if self.flip_test else None)
            row += len(segment.boxes)
        return crops

    def _crop_destination(self, count: int):
        """The backend's input buffer when this chunk's crops fit in one inference, else None (stage's own)."""
        if self._copies * count > self.backend.max_batch:
            return None
        return self.backend.input_buffer(self._input.name)

    def _heatmaps(self, crops):
        """float32 heatmaps of all crops, in slices of max_batch (only max_batch 1 with flip test needs two)."""
        if crops.dtype != self._input.dtype:
            crops = crops.astype(self._input.dtype)
        limit, name = self.backend.max_batch, self.settings.output_name
        if len(crops) <= limit:
            heatmaps = self.backend.run({self._input.name: crops})[name]
        else:
            # Copy each slice: a backend may reuse its output buffer between calls.
            parts = [self._xp.array(self.backend.run({self._input.name: crops[i : i + limit]})[name])
                     for i in range(0, len(crops), limit)]
            heatmaps = self._xp.concatenate(parts)
        return heatmaps if heatmaps.dtype == np.float32 else heatmaps.astype(np.float32)

    def _flip_merged(self, heatmaps, count: int):
        """Average of the crops' heatmaps and the flipped-back heatmaps of their mirrored copies."""
        flipped = flip_back(heatmaps[count : 2 * count], self.keypoints.flip_index, self.flip_shift, xp=self._xp)
        return (heatmaps[:count] + flipped) * 0.5

    def _poses_per_image(self, parts: list[tuple[np.ndarray, np.ndarray]], checked: list) -> list[Poses]:
        """Split the chunks' keypoints back per image and map them to image px."""
        num_keypoints = self.keypoints.num_keypoints
        coords = np.concatenate([c for c, _ in parts]) if parts else np.zeros((0, num_keypoints, 2), np.float32)
        scores = np.concatenate([s for _, s in parts]) if parts else np.zeros((0, num_keypoints), np.float32)
        _check_finite(scores, self.backend)
        heatmap_width_height = tuple(reversed(self.settings.heatmap_size))
        results, start = [], 0
        for boxes, box_scores in checked:
            stop = start + len(boxes)
            if stop == start:
                results.append(Poses.empty(num_keypoints))
                continue
            points = image_points_from_heatmap(coords[start:stop], boxes, self.warp, heatmap_size=heatmap_width_height)
            results.append(Poses(
                keypoints=points.astype(np.float32), scores=scores[start:stop].astype(np.float32),
                boxes=boxes.xyxy.astype(np.float32),
                box_scores=None if box_scores is None else box_scores.astype(np.float32),
            ))
            start = stop
        return results


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
