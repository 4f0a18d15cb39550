"""`PersonDetector`: image -> person boxes and scores, from a detector ONNX or engine, on the CPU or the GPU.

Per call, as named stages (`STAGES`, observable through `on_stage`): validate -> fit (each image resized into
the detector input; on the GPU one warp per image, with the upload) -> infer -> decode (score and class
filter, NMS, the per-image cap, the copy of the kept boxes to the host) -> map (input px -> image px).
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Sequence
from pathlib import Path
from contextlib import nullcontext
from typing import NamedTuple

import numpy as np

from ..artifacts.detector_settings import DetectorSettings
from ..artifacts.io import DYNAMIC, ModelIO, with_output_shapes
from ..artifacts.onnx_metadata import ONNX_SUFFIX
from ..artifacts.openvino_metadata import OPENVINO_SUFFIX
from ..artifacts.sidecar import ENGINE_SUFFIXES
from ..artifacts.metadata import DETECTOR_TASK
from ..errors import ConfigError
from ..geometry import has_croppable_area
from ..option_checks import fraction, positive_int
from ..runtime.backends import AUTO, open_backend
from ..runtime.backends.base import checked_model_file
from ..runtime.devices import array_module_for
from ..runtime.stage_timing import OnStage, StageClock, StageTimed
from ..runtime.thread_stages import StagePerThread
from ..validation import checked_image
from .decode import candidates_from_outputs, image_detections
from .fitting import fit_for
from .inputs import detector_input_stage
from .layouts import checked_classes, checked_layout, detector_settings_for, kept_classes

#: The stages a call goes through, in order, as `on_stage` names them (fit..decode once per chunk).
STAGES = ("validate", "fit", "infer", "decode", "map")


#: The files a detector is read from (a torch module or a loaded `Backend` is passed as itself).
DETECTOR_FILE_SUFFIXES = (ONNX_SUFFIX, OPENVINO_SUFFIX, *ENGINE_SUFFIXES)


def checked_detector_file(path: str | Path) -> Path:
    """`path` when it names an existing detector file (.onnx, OpenVINO .xml, .engine/.plan); else
    `EngineLoadError` (a checkpoint or a JSON file is no detector, and is not tried as one)."""
    return checked_model_file(path, "a person detector", DETECTOR_FILE_SUFFIXES,
                              "an ONNX as Ultralytics or transformers export it, or its engine")


class Detections(NamedTuple):
    """One image's detections: boxes (N, 4) float32 xyxy image px, clipped to the image, each covering some
    of it (boxes wholly outside are dropped); scores (N,) float32, highest first."""

    boxes: np.ndarray
    scores: np.ndarray


class PersonDetector(StageTimed):
    """Persons (or the `classes` asked for) in images, by a detector ONNX (ONNX Runtime) or engine (TensorRT).

    model: `.onnx` / `.engine` path (or a loaded `Backend`). The output layout and preprocessing come from
    the artifact's metadata (`vitpose-export --detector`), or are recognised from a foreign ONNX's outputs
    (`detect.layouts`); layout= forces one. score_threshold / iou_threshold / max_persons: None = the
    exporting tool's defaults (Ultralytics: 0.25 / 0.7 / 300; transformers' DETR: 0.5 / no NMS / 300).
    classes: class indices to keep (default: the class named "person"). color: "bgr" or "rgb" images.
    max_batch: most images per inference; threads: CPU threads. on_stage / sync_stages: as `PoseEstimator`'s.
    """

    def __init__(self, model, backend: str = AUTO, score_threshold: float | None = None,
                 iou_threshold: float | None = None, max_persons: int | None = None, classes=None,
                 layout: str | None = None, color: str = "bgr", max_batch: int | None = None,
                 threads: int | None = None, on_stage: OnStage | None = None, sync_stages: bool = False):
        for name, value in (("score_threshold", score_threshold), ("iou_threshold", iou_threshold)):
            if value is not None:
                fraction(name, value)
        if max_persons is not None:
            positive_int("max_persons", max_persons)
        layout, classes = checked_layout(layout), checked_classes(classes)  # a typo should not cost loading a model
        if isinstance(model, (str, Path)):
            model = checked_detector_file(model)
        self._clock = StageClock(on_stage)
        self.backend = open_backend(model, backend, max_batch=max_batch, threads=threads)
        self.settings = _settings_of(self.backend, layout, classes)
        self.score_threshold = self.settings.score_threshold if score_threshold is None else float(score_threshold)
        self.iou_threshold = self.settings.iou_threshold if iou_threshold is None else float(iou_threshold)
        self.max_persons = self.settings.max_detections if max_persons is None else max_persons
        self.color = color
        self._xp = array_module_for(self.backend.device)
        self._input = self.backend.io.input(self.settings.input_name)
        # Thread-safe backends: an input stage (its buffers) per thread, no lock. Others: calls take turns.
        self._stages = StagePerThread(lambda: detector_input_stage(self.backend.device, color, self.settings),
                                      shared=not self.backend.thread_safe)
        self._turns = nullcontext() if self.backend.thread_safe else threading.Lock()
        self.sync_stages = sync_stages

    def __repr__(self) -> str:
        s = self.settings
        return (f"PersonDetector({self.backend!r}, layout={s.layout}, classes={list(s.classes)}, "
                f"score>{self.score_threshold}, iou={self.iou_threshold}, max={self.max_persons})")

    def __call__(self, image) -> Detections:
        """The persons in `image` (H, W, 3) uint8 in the detector's color order (numpy; CuPy on the GPU)."""
        return self.batch([image])[0]

    def batch(self, images: Sequence) -> list[Detections]:
        """`Detections` of each image; up to `backend.max_batch` images share one inference."""
        with self._clock("validate"):
            images = [checked_image(image, self.backend.device) for image in images]
        results = []
        with self._turns:
            for start in range(0, len(images), self.backend.max_batch):
                results += self._chunk(images[start : start + self.backend.max_batch])
        return results

    def _chunk(self, images: list) -> list[Detections]:
        s, stage = self.settings, self._stages.get()
        with self._clock("fit"):
            fits = [fit_for(image.shape[:2], s.input_size, s.resize) for image in images]
            inputs = stage.batch(len(images), self.backend.input_buffer(self._input.name))
            for row, (image, fit) in enumerate(zip(images, fits)):
                stage.write(image, fit, inputs, row)
        with self._clock("infer"):
            outputs = self.backend.run({self._input.name: inputs.astype(self._input.dtype, copy=False)})
        with self._clock("decode"):
            candidates = candidates_from_outputs(outputs, s, s.classes, self.score_threshold, self._xp)
            found = image_detections(candidates, self.iou_threshold, self.max_persons, self._xp)
        with self._clock("map"):
            return [_inside_image(fit.image_boxes(d.boxes), d.scores) for fit, d in zip(fits, found)]


def _inside_image(boxes: np.ndarray, scores: np.ndarray) -> Detections:
    """The detections (boxes (N, 4) xyxy image px, clipped to the image) that cover some of the image.

    A box the clipping left without width or height lay wholly outside the image (in the letterbox padding,
    or predicted past the input's edge): no person of this image, and a point or line no pose model can
    crop (`geometry.has_croppable_area`)."""
    kept = has_croppable_area(boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1])
    return Detections(boxes[kept], scores[kept])


def _settings_of(backend, layout: str | None, classes) -> DetectorSettings:
    """The detector settings of a loaded backend: its metadata's, or recognised from its tensors."""
    metadata = backend.metadata
    if metadata is not None and metadata.task != DETECTOR_TASK:
        raise ConfigError(f"this is a {metadata.task} model ({metadata.model}), not a person detector")
    if metadata is None:
        return detector_settings_for(concrete_io(backend), backend.props, layout=layout, classes=classes,
                                     source=repr(backend))
    settings = metadata.detector
    if layout is not None and layout != settings.layout:
        raise ConfigError(f"{metadata.model} was imported as a {settings.layout} detector; layout={layout!r} "
                          "contradicts its metadata (re-import it with vitpose-export --detector --detector-layout)")
    if classes is None:
        return settings
    kept = kept_classes(classes, settings.class_names, settings.num_classes, metadata.model)
    return dataclasses.replace(settings, classes=kept)


def concrete_io(backend) -> ModelIO:
    """`backend.io` with the outputs' open dimensions filled in by one run on a zero image (exporters often
    leave them symbolic; the layout is recognised from them)."""
    io = backend.io
    if all(d != DYNAMIC for t in io.outputs for d in t.item_shape):
        return io
    xp = array_module_for(backend.device)
    return with_output_shapes(io, backend.run({t.name: xp.zeros((1, *t.item_shape), dtype=t.dtype) for t in io.inputs}))


