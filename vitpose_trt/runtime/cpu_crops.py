"""The CPU crop stage: image + warp matrices -> normalised (N, 3, 256, 192) float32 crops, numpy in and out.

A thin stateful wrapper over `vitpose_trt.preprocess` (the one CPU implementation): it takes warp
matrices (the interface it shares with the CUDA stage, see `devices.py`), reuses its buffers across
calls and writes the flip-test copies into the same batch.
"""

from __future__ import annotations

import numpy as np

from ..errors import InputError
from ..preprocess import checked_color, normalisation_table, normalised_crops, warped_pixels
from ..specs import INPUT_HEIGHT, INPUT_WIDTH, PIXEL_MEAN_RGB, PIXEL_STD_RGB

_CHANNELS = 3


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
        self._pixels = np.empty((0, INPUT_HEIGHT, INPUT_WIDTH, _CHANNELS), np.uint8)
        self._batch = np.empty((0, _CHANNELS, INPUT_HEIGHT, INPUT_WIDTH), np.float32)

    def __call__(self, image: np.ndarray, warps: np.ndarray, flip: bool = False, out: np.ndarray | None = None):
        count = len(warps)
        copies = 2 if flip else 1
        batch = self._batch_for(copies * count, out)
        if len(self._pixels) < count:
            self._pixels = np.empty((count, INPUT_HEIGHT, INPUT_WIDTH, _CHANNELS), np.uint8)
        pixels = warped_pixels(image, warps, out=self._pixels)
        normalised_crops(pixels, self.color, batch[:count], self._table)
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
