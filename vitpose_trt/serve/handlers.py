"""Answer a dynamically batched list of requests with one batched inference (the served models' logic).

A handler is what Triton's Python side calls with the requests its dynamic batcher grouped: a list of
{input name: array} (see `protocol`), answered by a list of {output name: array}, one per request, in
order. Each request is checked on its own: a bad one gets an `error` answer (and 0 rows elsewhere), the
good ones go into one `PoseEstimator.batch` (or pipeline) call, so the crops of all of them share
inferences. Failures of the model itself (`InferenceError`) propagate: Triton answers the batch with an
error. No Triton import here: PyTriton's server and the model repository's Python-backend model share it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from ..errors import InputError
from ..runtime.poses import Poses
from .protocol import (
    BOX_SCORES,
    BOXES,
    COUNT,
    ERROR,
    KEYPOINTS,
    MIN_OUTPUT_ROWS,
    SCORES,
    RequestLimits,
)
from .request_inputs import boxes_from_request, image_from_request

Request = Mapping[str, np.ndarray]
Response = dict[str, np.ndarray]


def response_from_poses(poses: Poses) -> Response:
    """The output tensors of one request (batch axis 1): count (1, 1) = N, keypoints (1, R, K, 2),
    scores (1, R, K), boxes (1, R, 4), box_scores (1, R) (NaN without detector scores), R = max(N, 1) rows
    (NaN past N), and an empty error."""
    count = len(poses)
    box_scores = poses.box_scores if poses.box_scores is not None else np.full(count, np.nan, np.float32)
    return {COUNT: np.array([[count]], np.int32), KEYPOINTS: _padded(poses.keypoints)[None],
            SCORES: _padded(poses.scores)[None], BOXES: _padded(poses.boxes)[None],
            BOX_SCORES: _padded(box_scores)[None], ERROR: np.array([[b""]], dtype=np.object_)}


def _padded(rows: np.ndarray) -> np.ndarray:
    """`rows` as float32 with NaN rows appended up to MIN_OUTPUT_ROWS."""
    missing = MIN_OUTPUT_ROWS - len(rows)
    rows = rows.astype(np.float32, copy=False)
    if missing <= 0:
        return rows
    return np.concatenate([rows, np.full((missing, *rows.shape[1:]), np.nan, np.float32)])


def error_response(message: str, num_keypoints: int) -> Response:
    """The output tensors of a refused request: count 0 and `message` in `error`."""
    response = response_from_poses(Poses.empty(num_keypoints))
    response[ERROR] = np.array([[message.encode()]], dtype=np.object_)
    return response


class _RequestHandler:
    """Check every request, run the good ones together, answer each in order."""

    def __init__(self, num_keypoints: int, color: str, limits: RequestLimits):
        self.num_keypoints, self.color, self.limits = num_keypoints, color, limits

    def __call__(self, requests: Sequence[Request]) -> list[Response]:
        answers: list[Response | None] = [None] * len(requests)
        accepted, inputs = [], []
        for index, request in enumerate(requests):
            try:
                inputs.append(self._inputs(request))
                accepted.append(index)
            except InputError as exc:
                answers[index] = error_response(str(exc), self.num_keypoints)
        if inputs:
            for index, poses in zip(accepted, self._poses(inputs), strict=True):
                answers[index] = response_from_poses(poses)
        return answers

    def _inputs(self, request: Request) -> tuple:
        raise NotImplementedError

    def _poses(self, inputs: list[tuple]) -> list[Poses]:
        raise NotImplementedError


class PoseRequestHandler(_RequestHandler):
    """`vitpose`: image + boxes per request -> `estimator.batch` over all accepted requests."""

    def __init__(self, estimator, limits: RequestLimits | None = None):
        super().__init__(estimator.keypoints.num_keypoints, estimator.color, limits or RequestLimits())
        self.estimator = estimator

    def _inputs(self, request: Request) -> tuple[np.ndarray, np.ndarray]:
        return image_from_request(request, self.color, self.limits), boxes_from_request(request, self.limits)

    def _poses(self, inputs: list[tuple]) -> list[Poses]:
        return self.estimator.batch([image for image, _ in inputs], [boxes for _, boxes in inputs])


class EndToEndRequestHandler(_RequestHandler):
    """`vitpose_e2e`: image per request -> `pipeline.batch(images)`, a detector + pose pipeline.

    pipeline: any object with `batch(images) -> list[Poses]` whose Poses carry the detector's boxes and
    box_scores (`vitpose_trt.apps.top_down.TopDown`); color: the channel order its images are in.
    """

    def __init__(self, pipeline, num_keypoints: int, color: str, limits: RequestLimits | None = None):
        super().__init__(num_keypoints, color, limits or RequestLimits())
        self.pipeline = pipeline

    def _inputs(self, request: Request) -> tuple[np.ndarray]:
        return (image_from_request(request, self.color, self.limits),)

    def _poses(self, inputs: list[tuple]) -> list[Poses]:
        return self.pipeline.batch([image for (image,) in inputs])
