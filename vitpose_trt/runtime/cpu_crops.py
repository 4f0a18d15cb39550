"""The CPU crop stage: image + warp matrices -> normalised (N, 3, H, W) float32 crops, numpy in and out.

A thin stateful wrapper over `vitpose_trt.preprocess` (the one CPU implementation): it takes warp
matrices (the interface it shares with the CUDA stage, see `devices.py`), reuses its buffers across
calls and writes flip-test copies into the same batch.
"""

from __future__ import annotations

import numpy as np

from ..errors import InputError
from ..preprocess import (
    checked_color,
    normalisation_table,
    normalised_crops,
    warped_pixels,
)
from ..specs import INPUT_HEIGHT, INPUT_WIDTH, PIXEL_MEAN_RGB, PIXEL_STD_RGB

_CHANNELS = 3


class CpuCrops:
    """Crop stage for CPU backends.

    `stage(image, warps, flip=False, out=None) -> crops`: image (H, W, 3) uint8 numpy array in `color`
    order; warps (N, 2, 3) float matrices mapping image px to crop px (`geometry.warps_from_boxes`); flip:
    also write the horizontally mirrored crops (crop x -> W - 1 - x) as rows N..2N-1, the flip-test input;
    out: optional C-contiguous float32 (M >= copies * N, 3, h, w) buffer, by default the stage's own, so the
    returned array is valid until the next call. Returns (copies * N, 3, h, w) float32, channel 0 = R.
    `stage.write(...)` fills rows of a batch the caller holds (several images into one batch).
    size: the crops' (h, w), by default the pose network's 256 x 192.
    """

    device = "cpu"

    def __init__(self, color: str = "bgr", mean=PIXEL_MEAN_RGB, std=PIXEL_STD_RGB,
                 size: tuple[int, int] = (INPUT_HEIGHT, INPUT_WIDTH)):
        self.color = checked_color(color)
        self.size = tuple(size)
        self._table = normalisation_table(mean, std)
        self._pixels = np.empty((0, *self.size, _CHANNELS), np.uint8)
        self._batch = np.empty((0, _CHANNELS, *self.size), np.float32)

    def __call__(self, image: np.ndarray, warps: np.ndarray, flip: bool = False, out: np.ndarray | None = None):
        count = len(warps)
        batch = self.batch((2 if flip else 1) * count, out)
        self.write(image, warps, batch, 0, count if flip else None)
        return batch

    def batch(self, rows: int, out: np.ndarray | None = None) -> np.ndarray:
        """`rows` rows to write crops into: the first rows of `out` (checked), else of the stage's own buffer."""
        if out is not None:
            expected = (_CHANNELS, *self.size)
            if out.dtype != np.float32 or out.shape[1:] != expected or len(out) < rows or not out.flags.c_contiguous:
                raise InputError(f"out must be a C-contiguous float32 ({rows}+, {_CHANNELS}, {self.size[0]}, "
                                 f"{self.size[1]}) array, got {out.shape}")
            return out[:rows]
        if len(self._batch) < rows:
            self._batch = np.empty((rows, _CHANNELS, *self.size), np.float32)
        return self._batch[:rows]

    def write(self, image: np.ndarray, warps: np.ndarray, batch: np.ndarray, row: int,
              mirror_row: int | None = None) -> None:
        """Write the N crops of `image` into `batch[row:row + N]`, and their mirrored copies into
        `batch[mirror_row:mirror_row + N]` unless `mirror_row` is None."""
        count = len(warps)
        if len(self._pixels) < count:
            self._pixels = np.empty((count, *self.size, _CHANNELS), np.uint8)
        pixels = warped_pixels(image, warps, out=self._pixels, size=self.size)
        crops = batch[row : row + count]
        normalised_crops(pixels, self.color, crops, self._table)
        if mirror_row is not None:
            batch[mirror_row : mirror_row + count] = crops[:, :, :, ::-1]
