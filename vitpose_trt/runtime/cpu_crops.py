"""The CPU crop stage: image + warp matrices -> normalised (N, 3, 256, 192) float32 crops, numpy in and out.

Same pixels as `vitpose_trt.preprocess.crops_from_boxes` (cv2.warpAffine of the uint8 image, bilinear,
constant border 0, then (v - mean) / std per RGB channel in float32); the tests hold the two equal.
The runtime keeps its own stage because it works from warp matrices (the interface it shares with the
CUDA stage), writes the flip-test copies into the same batch, and normalises through a 256-entry lookup
table per channel instead of float arithmetic over the whole batch.
"""

from __future__ import annotations

import numpy as np

from ..dependencies import import_optional
from ..errors import ConfigError, InputError
from ..preprocess import BORDER_VALUE, COLORS
from ..specs import INPUT_HEIGHT, INPUT_WIDTH, PIXEL_MEAN_RGB, PIXEL_STD_RGB

_CHANNELS = 3
#: Source channel of each RGB network channel, per image color order.
_RGB_SOURCE = {"bgr": (2, 1, 0), "rgb": (0, 1, 2)}
_UINT8_LEVELS = 256


def checked_color(color: str) -> str:
    """Return `color` ("bgr" or "rgb") or raise `ConfigError`."""
    if color not in COLORS:
        raise ConfigError(f"unknown color order {color!r}; valid: {', '.join(COLORS)}")
    return color


def normalisation_table(mean=PIXEL_MEAN_RGB, std=PIXEL_STD_RGB) -> np.ndarray:
    """(3, 256) float32: table[c, v] = (v - mean[c]) * (1 / std[c]), the float32 ops of the reference."""
    levels = np.arange(_UINT8_LEVELS, dtype=np.float32)[None, :]
    mean32 = np.asarray(mean, dtype=np.float32)[:, None]
    inverse_std32 = (1.0 / np.asarray(std, dtype=np.float32))[:, None]
    return (levels - mean32) * inverse_std32


class CpuCrops:
    """Crop stage for CPU backends: `(image, warps, flip, out=None) -> crops`.

    image: (H, W, 3) uint8 numpy array in `color` order. warps: (N, 2, 3) float matrices mapping image px
    to crop px (`geometry.warps_from_boxes`). flip: also write the horizontally mirrored crops (crop
    x -> 191 - x) as rows N..2N-1, the flip-test input. out: optional C-contiguous float32
    (M >= copies * N, 3, 256, 192) buffer; by default the stage reuses its own, so the returned array
    is valid until the next call. Returns (copies * N, 3, 256, 192) float32, channel 0 = R.
    """

    device = "cpu"

    def __init__(self, color: str = "bgr", mean=PIXEL_MEAN_RGB, std=PIXEL_STD_RGB):
        self.color = checked_color(color)
        self._table = normalisation_table(mean, std)
        self._source = _RGB_SOURCE[color]
        self._pixels = np.empty((0, INPUT_HEIGHT, INPUT_WIDTH, _CHANNELS), np.uint8)
        self._batch = np.empty((0, _CHANNELS, INPUT_HEIGHT, INPUT_WIDTH), np.float32)

    def __call__(self, image: np.ndarray, warps: np.ndarray, flip: bool = False, out: np.ndarray | None = None):
        count = len(warps)
        copies = 2 if flip else 1
        batch = self._batch_for(copies * count, out)
        pixels = self._warped_pixels(image, warps)
        for channel, source in enumerate(self._source):
            np.take(self._table[channel], pixels[..., source], out=batch[:count, channel], mode="clip")
        if flip:
            batch[count:] = batch[:count, :, :, ::-1]
        return batch

    def _batch_for(self, rows: int, out: np.ndarray | None) -> np.ndarray:
        if out is not None:
            expected = (_CHANNELS, INPUT_HEIGHT, INPUT_WIDTH)
            if out.dtype != np.float32 or out.shape[1:] != expected or len(out) < rows or not out.flags.c_contiguous:
                raise InputError(f"out must be a C-contiguous float32 ({rows}+, 3, 256, 192) array, got {out.shape}")
            return out[:rows]
        if len(self._batch) < rows:
            self._batch = np.empty((rows, _CHANNELS, INPUT_HEIGHT, INPUT_WIDTH), np.float32)
        return self._batch[:rows]

    def _warped_pixels(self, image: np.ndarray, warps: np.ndarray) -> np.ndarray:
        """(N, 256, 192, 3) uint8 crops of `image` (its channel order), in a reused buffer."""
        cv2 = import_optional("cv2", "CPU preprocessing (crops)")
        if len(self._pixels) < len(warps):
            self._pixels = np.empty((len(warps), INPUT_HEIGHT, INPUT_WIDTH, _CHANNELS), np.uint8)
        pixels = self._pixels[: len(warps)]
        for index, matrix in enumerate(np.asarray(warps, dtype=np.float64)):
            cv2.warpAffine(
                image,
                matrix,
                (INPUT_WIDTH, INPUT_HEIGHT),
                dst=pixels[index],
                flags=cv2.INTER_LINEAR,
                borderMode=cv2.BORDER_CONSTANT,
                borderValue=(BORDER_VALUE,) * _CHANNELS,
            )
        return pixels
