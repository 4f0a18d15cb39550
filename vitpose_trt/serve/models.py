"""What vitpose-serve serves: the `vitpose` model, and `vitpose_e2e` when a person detector is given.

One instance's models are built together (`instance_builder`): a `PoseEstimator`, its request handler,
and with a detector a top-down pipeline sharing that estimator. The detector comes from
`vitpose_trt.detect.PersonDetector` and the pipeline from `vitpose_trt.apps.top_down.TopDown`, imported
only when a detector is asked for.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable

from ..errors import ConfigError
from .handlers import EndToEndRequestHandler, PoseRequestHandler
from .protocol import E2E_MODEL, POSE_MODEL, RequestLimits, model_inputs, model_outputs
from .server import ServedModel

#: Modules of the person-detection feature (`--detector`).
DETECTION_MODULES = ("vitpose_trt.detect", "vitpose_trt.apps.top_down")


def detection_modules():
    """(vitpose_trt.detect, vitpose_trt.apps.top_down), or `ConfigError` when this vitpose-trt has none."""
    try:
        return tuple(importlib.import_module(name) for name in DETECTION_MODULES)
    except ModuleNotFoundError as exc:
        if exc.name not in DETECTION_MODULES:
            raise
        raise ConfigError("--detector needs vitpose-trt with person detection (vitpose_trt.detect and "
                          "vitpose_trt.apps.top_down), which this installation does not have: serve the vitpose "
                          "model alone (image + boxes), or upgrade vitpose-trt") from None


def top_down_pipeline(detector_path: str, estimator):
    """`TopDown(PersonDetector(detector_path), estimator)`: image -> boxes -> poses, both models taking the
    estimator's color order."""
    detect, top_down = detection_modules()
    return top_down.TopDown(detect.PersonDetector(detector_path, color=estimator.color), estimator)


def instance_builder(make_estimator: Callable, detector: str | None, limits: RequestLimits,
                     make_pipeline: Callable = top_down_pipeline) -> Callable[[], dict]:
    """() -> {model name: handler} for one instance: `vitpose` on `make_estimator()`, plus `vitpose_e2e`
    on `make_pipeline(detector, estimator)` when `detector` is given."""
    def build() -> dict:
        estimator = make_estimator()
        handlers = {POSE_MODEL: PoseRequestHandler(estimator, limits)}
        if detector is not None:
            pipeline = make_pipeline(detector, estimator)
            handlers[E2E_MODEL] = EndToEndRequestHandler(pipeline, estimator.keypoints.num_keypoints,
                                                         estimator.color, limits)
        return handlers

    return build


def served_models(handlers: dict[str, list], num_keypoints: int) -> list[ServedModel]:
    """`ServedModel`s for {model name: one handler per instance}, with the protocol's tensors."""
    return [ServedModel(name, tuple(per_instance), model_inputs(name), model_outputs(num_keypoints))
            for name, per_instance in handlers.items()]
