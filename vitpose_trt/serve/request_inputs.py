"""One served request's tensors -> the image and boxes `PoseEstimator` takes, or `InputError` saying what is wrong.

Requests arrive as {input name: array with Triton's batch axis}; see `protocol` for the names and shapes.
Everything here checks one request, so a bad one is answered alone while the requests batched with it run.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from ..errors import InputError
from ..validation import check_image_layout, checked_boxes
from .image_bytes import decoded_image
from .protocol import BOX_COUNT, BOXES, IMAGE, IMAGE_INPUTS, IMAGE_RAW, RequestLimits

#: A request holds one image: its tensors' batch axis has this size.
IMAGES_PER_REQUEST = 1


def image_from_request(request: Mapping[str, np.ndarray], color: str, limits: RequestLimits) -> np.ndarray:
    """(H, W, 3) uint8 C-contiguous pixels in `color` order from the request's `image` (JPEG/PNG bytes,
    decoded) or `image_raw` (pixels already in `color` order)."""
    given = [name for name in IMAGE_INPUTS if name in request]
    if len(given) != 1:
        raise InputError(f"send exactly one of {IMAGE} (JPEG/PNG bytes) or {IMAGE_RAW} ((H, W, 3) uint8 pixels); "
                         f"this request has {' and '.join(given) or 'neither'}")
    if given[0] == IMAGE:
        return decoded_image(_encoded_bytes(request[IMAGE], limits), limits.max_image_pixels, color)
    raw = _single_item(request[IMAGE_RAW], IMAGE_RAW)
    check_image_layout(raw.shape, raw.dtype)
    height, width = raw.shape[:2]
    if height * width > limits.max_image_pixels:
        raise InputError(f"{IMAGE_RAW} is {width}x{height} = {height * width} pixels, over this server's limit of "
                         f"{limits.max_image_pixels}")
    return np.ascontiguousarray(raw)


def boxes_from_request(request: Mapping[str, np.ndarray], limits: RequestLimits) -> np.ndarray:
    """(N, 4) float64 xyxy image-px boxes: the first `box_count` rows of `boxes` (all rows without it),
    checked like `PoseEstimator`'s (finite, non-negative size, within range)."""
    if BOXES not in request:
        raise InputError(f"this model needs {BOXES} ((N, 4) float32 xyxy image px)")
    rows = _single_item(request[BOXES], BOXES)
    if BOX_COUNT in request:
        count = _single_item(request[BOX_COUNT], BOX_COUNT).reshape(-1)
        if count.size != 1 or not 0 <= int(count[0]) <= len(rows):
            raise InputError(f"{BOX_COUNT} must be one integer in 0..{len(rows)} (the rows of {BOXES}), got "
                             f"{count.tolist()}")
        rows = rows[: int(count[0])]
    if len(rows) > limits.max_boxes:
        raise InputError(f"{len(rows)} boxes in one request, over this server's limit of {limits.max_boxes}")
    boxes, _ = checked_boxes(rows)
    return boxes.xyxy


def _single_item(array: np.ndarray, name: str) -> np.ndarray:
    """The one item of a request tensor (batch axis 1), or `InputError`."""
    if array.ndim < 1 or array.shape[0] != IMAGES_PER_REQUEST:
        raise InputError(f"{name} has batch size {array.shape[0] if array.ndim else 'none'}: send one image per "
                         "request (Triton batches requests on the server)")
    return array[0]


def _encoded_bytes(array: np.ndarray, limits: RequestLimits) -> bytes:
    """The encoded image of the request's `image` tensor, checked for emptiness and size."""
    items = _single_item(array, IMAGE).reshape(-1)
    if items.size != 1:
        raise InputError(f"{IMAGE} must hold one encoded image per request, got {items.size} items")
    item = items[0]
    data = item.encode() if isinstance(item, str) else bytes(item)
    if not data:
        raise InputError(f"{IMAGE} is empty (0 bytes): send the JPEG or PNG file's bytes")
    if len(data) > limits.max_encoded_bytes:
        raise InputError(f"{IMAGE} is {len(data)} bytes, over this server's limit of {limits.max_encoded_bytes}")
    return data
