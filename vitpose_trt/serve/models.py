"""What vitpose-serve serves: the `vitpose` model, and `vitpose_e2e` when a person detector is given.

One instance's models are built together (`instance_builder`): a `PoseEstimator`, its request handler,
and with a detector a top-down pipeline sharing that estimator (`PersonDetector` then `TopDown`, imported
only when a detector is asked for).
"""

from __future__ import annotations

from collections.abc import Callable

from .handlers import EndToEndRequestHandler, PoseRequestHandler
from .protocol import E2E_MODEL, POSE_MODEL, RequestLimits, model_inputs, model_outputs
from .server import ServedModel


def top_down_pipeline(detector_path: str, estimator):
    """`TopDown(PersonDetector(detector_path), estimator)`: image -> boxes -> poses, both models taking the
    estimator's color order."""
    from ..apps.top_down import TopDown
    from ..detect.detector import PersonDetector

    return TopDown(PersonDetector(detector_path, color=estimator.color), estimator)


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
