"""A whole image fitted into a detector's input: the geometry both ways, and the CPU resize that makes it.

Frames: image px (the caller's image) and input px (the detector's H x W input); pixel centres at integer
coordinates, boxes xyxy with continuous corners.

- "letterbox" (Ultralytics' LetterBox): scale r = min(H_in / h, W_in / w), resize to (round(w r), round(h r))
  with `cv2.resize` INTER_LINEAR, pad with grey to the input size, centred (left = round(dw - 0.1), top =
  round(dh - 0.1)). Boxes map back as Ultralytics' `scale_boxes`: (x - pad) / r with pad = round((W_in -
  w r) / 2 - 0.1), then clipped to the image.
- "stretch" (transformers' RT-DETR processor, PIL flavour): PIL bilinear resize to W_in x H_in; boxes map back
  by the two scales.

`Fit.warp` is the same mapping as an affine matrix (image px -> input px, cv2.resize's half-pixel grid): the
GPU path samples the whole frame through it with the crop kernel, which differs from the CPU resize by
resampling only (border blending at the image edge, rounding).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..dependencies import import_optional

#: Ultralytics rounds its padding after subtracting this (so an odd padding puts the extra pixel after).
PAD_ROUNDING_OFFSET = 0.1
#: cv2.resize and PIL sample at pixel centres: input x + 0.5 = scale * (image x + 0.5).
HALF_PIXEL = 0.5


@dataclass(frozen=True)
class Fit:
    """How one image of (height, width) sits in a detector input: image px -> input px is
    x_in = scale_x * x + offset_x (the resize and padding); boxes go back with `image_boxes`.

    resized: the image's size in the input, (w, h); pad: (left, top) padding of the resized image; map_pad:
    the padding `image_boxes` subtracts (Ultralytics computes it apart, from the unrounded size).
    """

    image_size: tuple[int, int]
    resized: tuple[int, int]
    pad: tuple[int, int]
    map_pad: tuple[float, float]
    map_scale: tuple[float, float]

    @property
    def warp(self) -> np.ndarray:
        """(2, 3) float64 image px -> input px on the resize's half-pixel grid (for the GPU warp)."""
        height, width = self.image_size
        sx, sy = self.resized[0] / width, self.resized[1] / height
        return np.array([[sx, 0.0, self.pad[0] + HALF_PIXEL * (sx - 1.0)],
                         [0.0, sy, self.pad[1] + HALF_PIXEL * (sy - 1.0)]])

    def image_boxes(self, boxes: np.ndarray) -> np.ndarray:
        """(N, 4) float32 xyxy input px -> (N, 4) float32 xyxy image px, clipped to the image (numpy)."""
        out = np.asarray(boxes, dtype=np.float32).copy()
        out[:, 0::2] = (out[:, 0::2] - np.float32(self.map_pad[0])) / np.float32(self.map_scale[0])
        out[:, 1::2] = (out[:, 1::2] - np.float32(self.map_pad[1])) / np.float32(self.map_scale[1])
        height, width = self.image_size
        np.clip(out[:, 0::2], 0, width, out=out[:, 0::2])
        np.clip(out[:, 1::2], 0, height, out=out[:, 1::2])
        return out


def fit_for(image_size: tuple[int, int], input_size: tuple[int, int], resize: str) -> Fit:
    """The `Fit` of an image of `image_size` (h, w) into an input of `input_size` (H_in, W_in) by `resize`."""
    (height, width), (in_height, in_width) = image_size, input_size
    if resize == "stretch":
        scale = (in_width / width, in_height / height)
        return Fit(image_size, (in_width, in_height), (0, 0), (0.0, 0.0), scale)
    ratio = min(in_height / height, in_width / width)
    resized = (round(width * ratio), round(height * ratio))
    pad = (round((in_width - resized[0]) / 2 - PAD_ROUNDING_OFFSET),
           round((in_height - resized[1]) / 2 - PAD_ROUNDING_OFFSET))
    map_pad = (round((in_width - width * ratio) / 2 - PAD_ROUNDING_OFFSET),
               round((in_height - height * ratio) / 2 - PAD_ROUNDING_OFFSET))
    return Fit(image_size, resized, pad, map_pad, (ratio, ratio))


def fitted_pixels(image: np.ndarray, fit: Fit, input_size: tuple[int, int], resize: str, pad_value: int) -> np.ndarray:
    """(H_in, W_in, 3) uint8: `image` (h, w, 3) resized and padded as the exporter's own preprocessing does."""
    if resize == "stretch":
        pil = import_optional("PIL.Image", "DETR preprocessing (Pillow)")
        return np.asarray(pil.fromarray(image).resize(fit.resized, resample=pil.BILINEAR))
    cv2 = import_optional("cv2", "letterbox preprocessing")
    resized = image if fit.resized == (image.shape[1], image.shape[0]) else \
        cv2.resize(image, fit.resized, interpolation=cv2.INTER_LINEAR)
    in_height, in_width = input_size
    left, top = fit.pad
    right, bottom = in_width - fit.resized[0] - left, in_height - fit.resized[1] - top
    return cv2.copyMakeBorder(resized, top, bottom, left, right, cv2.BORDER_CONSTANT, value=(pad_value,) * 3)
