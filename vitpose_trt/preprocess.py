"""Person crops for the network: image + boxes -> normalised (N, 3, 256, 192) float32 batches on the CPU.

The official test pipeline: `cv2.warpAffine` of the uint8 image (bilinear, constant border 0, i.e. black before
normalisation), then ImageNet normalisation in RGB channel order. OpenCV loads lazily (`import_optional`).
This is the only CPU implementation: the runtime's CPU crop stage and export's calibration both use it.
"""

from __future__ import annotations

import numpy as np

from .dependencies import import_optional
from .errors import ConfigError, InputError
from .geometry import boxes_xyxy, warps_from_boxes
from .specs import INPUT_HEIGHT, INPUT_WIDTH, PIXEL_MEAN_RGB, PIXEL_STD_RGB
from .validation import checked_image

COLORS = ("bgr", "rgb")
#: Channel order that turns an image of each color order into RGB.
_TO_RGB = {"bgr": [2, 1, 0], "rgb": [0, 1, 2]}
_CHANNELS = 3
#: What the warp writes outside the image, before normalisation (official: cv2's default constant 0).
BORDER_VALUE = 0
_UINT8_LEVELS = 256


def _checked_out(out, count: int) -> np.ndarray:
    shape = (count, _CHANNELS, INPUT_HEIGHT, INPUT_WIDTH)
    if out is None:
        return np.empty(shape, dtype=np.float32)
    if not isinstance(out, np.ndarray) or out.dtype != np.float32 or out.ndim != len(shape):
        raise InputError("out must be a float32 numpy array of shape (M, 3, 256, 192) with M >= N")
    if out.shape[1:] != shape[1:] or out.shape[0] < count or not out.flags.c_contiguous:
        raise InputError(f"out must be C-contiguous (M >= {count}, 3, 256, 192), got {out.shape}")
    return out[:count]


def checked_color(color: str) -> str:
    """Return `color` ("bgr" or "rgb") or raise `ConfigError`."""
    if color not in COLORS:
        raise ConfigError(f"unknown color order {color!r}; valid: {', '.join(COLORS)}")
    return color


def normalisation_table(mean=PIXEL_MEAN_RGB, std=PIXEL_STD_RGB) -> np.ndarray:
    """(3, 256) float32: table[c, v] = (v - mean[c]) * (1 / std[c]) for RGB channel c, uint8 value v.

    A lookup per pixel is faster than float arithmetic over the batch and gives the same float32 values.
    """
    levels = np.arange(_UINT8_LEVELS, dtype=np.float32)[None, :]
    mean32 = np.asarray(mean, dtype=np.float32)[:, None]
    inverse_std32 = (1.0 / np.asarray(std, dtype=np.float32))[:, None]
    return (levels - mean32) * inverse_std32


_TABLE = normalisation_table()


def crops_from_boxes(
    image: np.ndarray,
    boxes,
    warp: str = "udp",
    color: str = "bgr",
    out: np.ndarray | None = None,
    flip: bool = False,
) -> np.ndarray:
    """Return the normalised network inputs (N, 3, 256, 192) float32 for xyxy image-px boxes (N, 4).

    image: (H, W, 3) uint8 in `color` order ("bgr": OpenCV frames, "rgb"). Crops are warped with the
    `warp` ("udp" or "classic") matrices of `geometry.warps_from_boxes`, then normalised with the ImageNet
    mean/std per RGB channel: channel 0 of the result is R. out: optional preallocated C-contiguous float32
    (M >= N, 3, 256, 192) buffer; the result is its first N rows. flip=True returns the crops mirrored
    horizontally (crop x -> 191 - x), the flip-test input.
    """
    checked_color(color)
    image = checked_image(image)
    warps = warps_from_boxes(boxes_xyxy(boxes), warp)
    batch = _checked_out(out, len(warps))
    normalised_crops(warped_pixels(image, warps), color, batch)
    if flip:
        batch[:] = batch[..., ::-1]
    return batch


def normalised_crops(pixels: np.ndarray, color: str, out: np.ndarray, table: np.ndarray = _TABLE) -> np.ndarray:
    """Write (N, 256, 192, 3) uint8 crops in `color` order into `out` (N, 3, 256, 192) float32, RGB-normalised.

    table: `normalisation_table(mean, std)` (default: ImageNet). Returns `out`.
    """
    for channel, source in enumerate(_TO_RGB[color]):
        np.take(table[channel], pixels[..., source], out=out[:, channel], mode="clip")
    return out


def warped_pixels(image: np.ndarray, warps: np.ndarray, out: np.ndarray | None = None,
                  size: tuple[int, int] = (INPUT_HEIGHT, INPUT_WIDTH)) -> np.ndarray:
    """(N, H, W, 3) uint8 crops of `image` (same channel order) through the (N, 2, 3) image->crop warps.

    size: the crop's (H, W), by default the pose network's 256 x 192. out: optional (M >= N, H, W, 3) uint8
    buffer to write into (its first N rows are returned).
    """
    cv2 = import_optional("cv2", "CPU preprocessing (crops)")
    height, width = size
    shape = (len(warps), height, width, _CHANNELS)
    pixels = np.empty(shape, dtype=np.uint8) if out is None else out[: len(warps)]
    for index, matrix in enumerate(np.asarray(warps, dtype=np.float64)):
        cv2.warpAffine(
            image,
            matrix,
            (width, height),
            dst=pixels[index],
            flags=cv2.INTER_LINEAR,
            borderMode=cv2.BORDER_CONSTANT,
            borderValue=(BORDER_VALUE,) * _CHANNELS,
        )
    return pixels
