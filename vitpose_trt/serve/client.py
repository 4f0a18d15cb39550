"""`PoseClient`: send images to a vitpose-serve (or model-repository) Triton server, get `Poses` back.

A thin layer over `tritonclient` (gRPC by default, HTTP on request), imported when a client is made.
One client holds one connection; it is not meant to be shared between threads: make one per thread.
"""

from __future__ import annotations

import dataclasses
import http.client
from dataclasses import dataclass

import numpy as np

from ..dependencies import import_optional
from ..errors import ConfigError, InputError, VitPoseError
from ..runtime.poses import Poses
from ..validation import checked_boxes
from .protocol import (
    BOX_COUNT,
    BOX_SCORES,
    BOXES,
    COUNT,
    E2E_MODEL,
    ERROR,
    IMAGE,
    IMAGE_RAW,
    KEYPOINTS,
    POSE_MODEL,
    SCORES,
    padded_box_rows,
)

PROTOCOLS = ("grpc", "http")
OUTPUTS = (COUNT, KEYPOINTS, SCORES, BOXES, BOX_SCORES, ERROR)
#: Seconds a request may take before the client gives up on it (None: wait as long as it takes).
DEFAULT_TIMEOUT_S = 60.0


class ServerError(VitPoseError):
    """The server refused or failed a request for a reason other than its content (see its message)."""


@dataclass(frozen=True)
class BatchStats:
    """How the server batched: {batch size: executions} and the total requests inferred, per model."""

    executions: dict[int, int]
    requests: int

    @property
    def largest(self) -> int:
        return max((size for size, count in self.executions.items() if count), default=0)


class PoseClient:
    """Poses from a Triton server serving the `vitpose` / `vitpose_e2e` models (`vitpose_trt.serve.protocol`).

    url: "host:port" of the gRPC port (protocol "grpc") or the HTTP port ("http"). timeout_s: per request.
    """

    def __init__(self, url: str = "127.0.0.1:8001", protocol: str = "grpc", timeout_s: float | None = DEFAULT_TIMEOUT_S):
        if protocol not in PROTOCOLS:
            raise ConfigError(f"unknown protocol {protocol!r}; valid: {', '.join(PROTOCOLS)}")
        if "://" in url:  # tritonclient takes host:port only, and its errors would not say so
            raise ConfigError(f"server {url}: give host:port, without a scheme")
        self.protocol, self.url, self.timeout_s = protocol, url, timeout_s
        self._module = import_optional(f"tritonclient.{protocol}", "the vitpose-serve client")
        self._utils = import_optional("tritonclient.utils", "the vitpose-serve client")
        self._client = self._module.InferenceServerClient(url) if protocol == "grpc" else \
            self._module.InferenceServerClient(url, connection_timeout=timeout_s, network_timeout=timeout_s)

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> PoseClient:
        return self

    def __exit__(self, *_exc) -> None:
        self.close()

    def is_ready(self, model: str = POSE_MODEL) -> bool:
        """Whether the server answers and `model` is loaded (False while it starts or when unreachable)."""
        try:
            return bool(self._client.is_server_ready() and self._client.is_model_ready(model))
        except self._transport_errors():
            return False

    def _transport_errors(self) -> tuple[type[BaseException], ...]:
        """What tritonclient raises for a server it cannot talk to: its own exception, the socket's errors, and
        (HTTP) the parser's when the port speaks another protocol (the gRPC port, say)."""
        return self._utils.InferenceServerException, OSError, http.client.HTTPException

    def poses(self, image, boxes, model: str = POSE_MODEL) -> Poses:
        """Poses of the (N, 4) xyxy image-px `boxes` in `image`: (H, W, 3) uint8 pixels in the server's color
        order (`vitpose-serve --color`, default rgb) or the bytes of a JPEG/PNG file. Raises `InputError`
        when the server refuses the request's content (with its reason), `ServerError` otherwise."""
        checked, box_scores = checked_boxes(boxes)
        xyxy = checked.xyxy.astype(np.float32)
        rows = np.zeros((1, padded_box_rows(len(xyxy)), 4), np.float32)
        rows[0, : len(xyxy)] = xyxy
        inputs = [self._image_input(image), self._input(BOXES, rows),
                  self._input(BOX_COUNT, np.array([[len(xyxy)]], np.int32))]
        poses = self._poses(model, inputs)
        # The server takes boxes only; a 5th column stays here, as PoseEstimator keeps it (Poses.to_coco).
        return poses if box_scores is None else dataclasses.replace(poses, box_scores=box_scores.astype(np.float32))

    def detect_poses(self, image, model: str = E2E_MODEL) -> Poses:
        """Persons found and their poses in `image` (as in `poses`), from the `vitpose_e2e` model; the Poses
        carry the detector's boxes and box_scores."""
        return self._poses(model, [self._image_input(image)])

    def batch_stats(self, model: str = POSE_MODEL) -> BatchStats:
        """How the server has batched `model`'s requests so far (Triton's statistics API)."""
        stats = self._client.get_inference_statistics(model, as_json=True) if self.protocol == "grpc" \
            else self._client.get_inference_statistics(model)
        entry = stats["model_stats"][0]
        executions = {int(b["batch_size"]): int(b["compute_infer"]["count"]) for b in entry.get("batch_stats", [])}
        return BatchStats(executions, int(entry.get("inference_count", 0)))

    def _image_input(self, image):
        if isinstance(image, (bytes, bytearray, memoryview)):
            return self._input(IMAGE, np.array([[bytes(image)]], dtype=np.object_))
        if not isinstance(image, np.ndarray) or image.dtype != np.uint8 or image.ndim != 3 or 0 in image.shape:
            raise InputError("image must be non-empty (H, W, 3) uint8 numpy pixels or the bytes of a JPEG/PNG file, "
                             f"got {type(image).__name__} {getattr(image, 'shape', '')} {getattr(image, 'dtype', '')}")
        return self._input(IMAGE_RAW, np.ascontiguousarray(image)[None])

    def _input(self, name: str, array: np.ndarray):
        tensor = self._module.InferInput(name, list(array.shape), self._utils.np_to_triton_dtype(array.dtype))
        tensor.set_data_from_numpy(array)
        return tensor

    def _poses(self, model: str, inputs: list) -> Poses:
        outputs = [self._module.InferRequestedOutput(name) for name in OUTPUTS]
        try:
            result = self._infer(model, inputs, outputs)
        except self._utils.InferenceServerException as exc:
            raise ServerError(f"{model} at {self.url}: {exc.message() or exc}") from None
        except self._transport_errors() as exc:
            raise ServerError(f"{model} at {self.url}: {exc!r}") from None
        error = result.as_numpy(ERROR).reshape(-1)[0]
        if error:
            raise InputError(f"{model} at {self.url} refused the request: "
                             f"{error.decode() if isinstance(error, bytes) else error}")
        count = int(result.as_numpy(COUNT).reshape(-1)[0])
        rows = {name: result.as_numpy(name)[0][:count] for name in (KEYPOINTS, SCORES, BOXES, BOX_SCORES)}
        scored = count > 0 and not np.isnan(rows[BOX_SCORES]).any()  # `vitpose` sends NaN: no detector scores
        box_scores = rows[BOX_SCORES] if scored else None
        return Poses(keypoints=rows[KEYPOINTS], scores=rows[SCORES], boxes=rows[BOXES], box_scores=box_scores)

    def _infer(self, model: str, inputs: list, outputs: list):
        if self.protocol == "grpc":
            return self._client.infer(model, inputs, outputs=outputs, client_timeout=self.timeout_s)
        return self._client.infer(model, inputs, outputs=outputs)  # the timeout is the connection's
