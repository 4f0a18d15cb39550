"""The wire contract of the served models: model names, tensors, dtypes, shapes and request limits.

Pure data (numpy only): the PyTriton server, the Triton model repository writer and the client all read
it, so a name is spelled once. Every tensor carries Triton's leading batch axis; a request holds one image
(batch axis 1) and Triton's dynamic batcher groups requests. Two models:

`vitpose` (image + boxes -> poses)
    image      BYTES [1]          encoded JPEG or PNG (one of image / image_raw)
    image_raw  UINT8 [-1, -1, 3]  (H, W, 3) pixels in the server's color order (`--color`, default rgb)
    boxes      FP32  [-1, 4]      N person boxes, xyxy image px; N may be 0
    box_count  INT32 [1]          optional: only the first box_count rows of boxes are boxes
`vitpose_e2e` (image -> boxes + poses): image or image_raw only.
Outputs of both: count INT32 [1], the number N of persons; keypoints FP32 [-1, K, 2] (image px, x y),
scores FP32 [-1, K], boxes FP32 [-1, 4] (xyxy image px: as given for `vitpose`, the detector's for
`vitpose_e2e`) and box_scores FP32 [-1] (the detector's; NaN for `vitpose`), each with max(N, 1) rows:
rows past N are NaN padding, because PyTriton cannot send a tensor with 0 elements; and error BYTES [1]:
empty, or what is wrong with the request (then N is 0).

Triton batches only requests whose tensors have equal shapes. Encoded images always do (one BYTES item);
raw images do when they have the same size; boxes do when they have the same row count, which is why
`box_count` exists: the client pads boxes to `padded_box_rows(N)` rows so that requests with similar
person counts batch together. Content errors (undecodable bytes, bad boxes, too many of them, images
over the limits) come back in `error` rather than as a Triton error, because PyTriton answers a batch of
requests as a whole: one bad request must not fail the others batched with it. Wrong names, dtypes and
ranks are refused by Triton itself, with an error status.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..option_checks import positive_int

POSE_MODEL = "vitpose"
E2E_MODEL = "vitpose_e2e"
MODELS = (POSE_MODEL, E2E_MODEL)

IMAGE, IMAGE_RAW, BOXES, BOX_COUNT = "image", "image_raw", "boxes", "box_count"
COUNT, KEYPOINTS, SCORES, BOX_SCORES, ERROR = "count", "keypoints", "scores", "box_scores", "error"
#: Image inputs: exactly one per request.
IMAGE_INPUTS = (IMAGE, IMAGE_RAW)

#: Largest image accepted, in pixels (raw, or an encoded image's header size): 8192 x 8192.
MAX_IMAGE_PIXELS = 8192 * 8192
#: Largest encoded image accepted, in bytes.
MAX_ENCODED_BYTES = 64 * 2**20
#: Most boxes per `vitpose` request.
MAX_BOXES = 256
#: Per-person outputs have at least this many rows (PyTriton cannot send empty tensors).
MIN_OUTPUT_ROWS = 1
#: Clients pad box arrays to at least this many rows, then to the next power of two.
MIN_BOX_ROWS = 8


@dataclass(frozen=True)
class TensorSpec:
    """One input or output of a served model, as Triton declares it (without the batch axis).

    dtype: numpy dtype (np.bytes_ for Triton's BYTES). shape: -1 where it varies.
    """

    name: str
    dtype: type
    shape: tuple[int, ...]
    optional: bool = False

    @property
    def wire_dtype(self) -> str:
        """The dtype as Triton's inference protocol names it ("FP32", "BYTES")."""
        return WIRE_DTYPES[self.dtype]

    @property
    def config_dtype(self) -> str:
        """The dtype as a config.pbtxt names it ("TYPE_FP32"; BYTES is "TYPE_STRING" there)."""
        return "TYPE_STRING" if self.dtype is np.bytes_ else f"TYPE_{self.wire_dtype}"


#: numpy dtypes of the served tensors -> Triton's protocol names.
WIRE_DTYPES = {np.float32: "FP32", np.float16: "FP16", np.uint8: "UINT8", np.int32: "INT32", np.bytes_: "BYTES"}


@dataclass(frozen=True)
class RequestLimits:
    """What one request may hold; larger requests get an `error` answer (see the module docstring)."""

    max_image_pixels: int = MAX_IMAGE_PIXELS
    max_encoded_bytes: int = MAX_ENCODED_BYTES
    max_boxes: int = MAX_BOXES

    def __post_init__(self) -> None:
        for name in ("max_image_pixels", "max_encoded_bytes", "max_boxes"):
            value = getattr(self, name)
            positive_int(name, value)


def image_inputs() -> tuple[TensorSpec, ...]:
    """The two optional image inputs (exactly one must be sent)."""
    return (TensorSpec(IMAGE, np.bytes_, (1,), optional=True),
            TensorSpec(IMAGE_RAW, np.uint8, (-1, -1, 3), optional=True))


def model_inputs(model: str) -> tuple[TensorSpec, ...]:
    """The inputs of `model` ("vitpose" or "vitpose_e2e")."""
    if model == E2E_MODEL:
        return image_inputs()
    return (*image_inputs(), TensorSpec(BOXES, np.float32, (-1, 4)),
            TensorSpec(BOX_COUNT, np.int32, (1,), optional=True))


def model_outputs(num_keypoints: int) -> tuple[TensorSpec, ...]:
    """The outputs of both models for a keypoint set of `num_keypoints` (K) keypoints."""
    return (TensorSpec(COUNT, np.int32, (1,)),
            TensorSpec(KEYPOINTS, np.float32, (-1, num_keypoints, 2)),
            TensorSpec(SCORES, np.float32, (-1, num_keypoints)),
            TensorSpec(BOXES, np.float32, (-1, 4)),
            TensorSpec(BOX_SCORES, np.float32, (-1,)),
            TensorSpec(ERROR, np.bytes_, (1,)))


def padded_box_rows(count: int) -> int:
    """Rows a client sends for `count` boxes: MIN_BOX_ROWS, or the next power of two above it."""
    rows = MIN_BOX_ROWS
    while rows < count:
        rows *= 2
    return rows
