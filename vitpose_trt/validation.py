"""Checks at the public boundary (PoseEstimator, preprocess): images and boxes a user passes in, as `InputError`.

Numpy only. Everything past this module may assume a (H, W, 3) uint8 C-contiguous image and
`geometry.CheckedBoxes`: (N, 4) float64 xyxy boxes, finite and non-degenerate.
"""

from __future__ import annotations

import numpy as np

from .errors import InputError
from .geometry import CheckedBoxes, checked_boxes_xyxy, numeric_array

#: An image is (height, width, channels) with this many colour channels.
IMAGE_CHANNELS = 3
#: Box columns: x1, y1, x2, y2 (or x, y, w, h); a fifth column, when present, is the detector score.
BOX_COLUMNS = 4
BOX_COLUMNS_WITH_SCORE = 5


#: DLPack device types of CUDA memory (kDLCUDA, kDLCUDAManaged).
DLPACK_CUDA_DEVICES = (2, 13)


def is_gpu_array(image) -> bool:
    """True for arrays in CUDA memory: `__cuda_array_interface__`, or a DLPack CUDA device."""
    if hasattr(image, "__cuda_array_interface__"):
        return True
    device = getattr(image, "__dlpack_device__", None)
    return device is not None and not isinstance(image, np.ndarray) and device()[0] in DLPACK_CUDA_DEVICES


def _describe(image) -> str:
    shape = getattr(image, "shape", None)
    dtype = getattr(image, "dtype", None)
    return f"{type(image).__name__} with shape {shape} and dtype {dtype}"


def checked_image(image, device: str = "cpu"):
    """Return `image` as a C-contiguous (H, W, 3) uint8 array, or raise `InputError`.

    device "cpu": a numpy array is required (a non-contiguous view is copied, nothing else changes).
    device "cuda": numpy arrays and GPU arrays (`__cuda_array_interface__` / DLPack, e.g. CuPy) pass;
    GPU arrays are returned as they are and only their shape and dtype are checked here.
    """
    on_gpu = is_gpu_array(image)
    if on_gpu and device != "cuda":
        raise InputError(f"this backend runs on the CPU: pass the image as a numpy array, not {_describe(image)}")
    if not on_gpu and not isinstance(image, np.ndarray):
        raise InputError(f"image must be a (H, W, 3) uint8 numpy array, got {type(image).__name__}")
    check_image_layout(getattr(image, "shape", ()), getattr(image, "dtype", None))
    if on_gpu:
        return image
    return np.ascontiguousarray(image)


def check_image_layout(shape, dtype) -> None:
    """Raise `InputError` unless `shape` is (H, W, 3) with H, W >= 1 and `dtype` is uint8 (any array kind)."""
    shape = tuple(shape)
    if len(shape) != 3 or shape[2] != IMAGE_CHANNELS:
        raise InputError(
            f"image must have shape (H, W, 3), got {shape}; convert grayscale or RGBA images to 3 channels first"
        )
    if shape[0] < 1 or shape[1] < 1:
        raise InputError(f"image is empty: shape {shape}")
    if str(dtype) != "uint8":
        raise InputError(f"image must be uint8 (0-255 pixel values), got {dtype}")


def listed(values, what: str) -> list:
    """`values` (a sequence or any iterable, e.g. a generator of images) as a list; `InputError` if not iterable."""
    if isinstance(values, (str, bytes)):
        raise InputError(f"{what} must be a sequence, got a {type(values).__name__}")
    try:
        return list(values)
    except TypeError:
        raise InputError(f"{what} must be a sequence (one item per image), got {type(values).__name__}") from None


def checked_boxes(boxes, box_format: str = "xyxy") -> tuple[CheckedBoxes, np.ndarray | None]:
    """Return (boxes: `CheckedBoxes`, (N, 4) float64 xyxy image px; box scores (N,) float64 or None).

    boxes: (N, 4) or (N, 5) array-like, N may be 0; the optional 5th column is the detector score,
    which `Poses.to_coco` multiplies into the pose score. box_format: "xyxy" or "xywh" (COCO) for the
    first four columns. Raises `InputError` for wrong shapes, non-numeric or non-finite values or
    degenerate boxes; see `vitpose_trt.geometry` for which boxes pass (lines, tiny boxes and boxes
    outside the image do).
    """
    array = numeric_array(boxes)
    if array.shape in ((0,), (0, BOX_COLUMNS_WITH_SCORE)):  # `[]`, or no boxes with scores: no persons
        return checked_boxes_xyxy(np.zeros((0, BOX_COLUMNS)), box_format), None
    scores = None
    if array.ndim == 2 and array.shape[1] == BOX_COLUMNS_WITH_SCORE:
        array, scores = array[:, :BOX_COLUMNS], array[:, BOX_COLUMNS].copy()
        if not np.isfinite(scores).all():
            raise InputError("box scores (5th column) contain NaN or infinite values")
    return checked_boxes_xyxy(array, box_format), scores
