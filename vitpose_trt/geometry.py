"""Boxes -> centre/scale -> 2x3 warp matrices, and heatmap coordinates back to image pixels.

Numpy only. Coordinate frames (all (x, y), pixel centres at integer coordinates):

- image px: the input image; boxes are xyxy in image px (continuous corners, width = x2 - x1).
- crop px: the network input, INPUT_WIDTH x INPUT_HEIGHT (192 x 256).
- heatmap px: the network output, HEATMAP_WIDTH x HEATMAP_HEIGHT (48 x 64).

A box becomes a centre and a "scale" as in the official ViTPose / mmpose 0.x `_box2cs`: the box is grown to the
network aspect ratio (192:256, W:H) around its centre, padded by BOX_PADDING and expressed in units of
PIXEL_STD pixels. Two warps follow the official code:

- "udp" (unbiased data processing, `get_warp_matrix`): the padded box spans the crop's size-minus-one grid:
  its left edge maps to crop x = 0 and its right edge to crop x = 191; heatmaps use the same convention, so
  heatmap x = crop x * 47 / 191.
- "classic" (`get_affine_transform`): the box centre maps to the crop centre (96, 128) with one isotropic
  scale 192 / box width; heatmap x = crop x / 4 (the official, half-pixel-biased convention).

Degenerate and unusual boxes (what `boxes_xyxy` does; the README's "Boxes" section says the same):

- negative width or height (usually xywh passed as xyxy), or both zero (a point; sides under
  MIN_BOX_EXTENT px count as zero, as their crop's magnification would overflow): `InputError`;
- one side zero (a line): accepted; the aspect-ratio rule gives it the other side's extent, exactly as
  the official pipeline does;
- NaN or infinite values, or a coordinate beyond +-MAX_COORDINATE px: `InputError`;
- partly or wholly outside the image: accepted; the crop shows black (zero) pixels where the padded box
  leaves the image, as the official warp does, and keypoints may lie outside the image;
- tiny boxes (any positive size) are accepted: their crop is the box magnified.

Box arrays must be real numbers (ints, floats or a list of them); complex, string or boolean arrays raise
`InputError`. No boxes ((0, 4), [] or [[]]) is not an error. Every function here checks the boxes it is
given, except `CheckedBoxes`, which `checked_boxes_xyxy` returns: they were checked once already, so a
pipeline that passes them through several functions checks them once per call.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .errors import ConfigError, InputError
from .keypoints import WARPS
from .specs import HEATMAP_HEIGHT, HEATMAP_WIDTH, INPUT_HEIGHT, INPUT_WIDTH

#: Width / height of the network input; boxes are grown to this aspect ratio.
ASPECT_RATIO = INPUT_WIDTH / INPUT_HEIGHT
#: The official "pixel std": scales are box sizes in units of this many pixels.
PIXEL_STD = 200.0
#: Context added around every box (the official test-time padding).
BOX_PADDING = 1.25
BOX_FORMATS = ("xyxy", "xywh")
_BOX_COLUMNS = 4
#: Largest |coordinate| accepted in a box, in image px: float32 (the type of `Poses`) still holds every
#: integer pixel up to 2**24, and no camera image comes near it.
MAX_COORDINATE = float(2**24)
#: A box whose width and height are both under this (px) is a point: its warp would magnify it past float64.
MIN_BOX_EXTENT = 2.0**-20
#: numpy dtype kinds accepted as box values: bool is not a coordinate, complex and strings are not numbers.
_NUMERIC_KINDS = "iufO"


def numeric_array(values, what: str = "boxes") -> np.ndarray:
    """`values` (array-like of real numbers, any shape) as a float64 array, or raise `InputError`.

    Ragged lists, strings, booleans and complex numbers are refused instead of being coerced.
    """
    try:
        raw = np.asarray(values)
        if raw.dtype.kind not in _NUMERIC_KINDS:
            raise InputError(f"{what} must be numeric (real numbers), got an array of dtype {raw.dtype}")
        return np.array(raw, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        if isinstance(exc, InputError):
            raise
        raise InputError(f"{what} must be a numeric (N, 4) array: {exc}") from None


@dataclass(frozen=True, eq=False)
class CheckedBoxes:
    """xyxy: (N, 4) float64 image-px boxes that passed `boxes_xyxy`'s checks (use `checked_boxes_xyxy`)."""

    xyxy: np.ndarray

    def __len__(self) -> int:
        return len(self.xyxy)

    def rows(self, start: int, stop: int) -> CheckedBoxes:
        """Boxes start..stop-1 (still checked)."""
        return CheckedBoxes(self.xyxy[start:stop])


def checked_boxes_xyxy(boxes, box_format: str = "xyxy") -> CheckedBoxes:
    """`boxes_xyxy(boxes, box_format)`, marked as checked so that later geometry skips the checks."""
    return CheckedBoxes(boxes_xyxy(boxes, box_format))


def boxes_xyxy(boxes, box_format: str = "xyxy") -> np.ndarray:
    """Return `boxes` as a validated (N, 4) float64 array of xyxy image-pixel boxes.

    boxes: (N, 4) array-like (lists accepted, N may be 0), xyxy (x1, y1, x2, y2) or, with
    box_format="xywh", COCO (x, y, width, height) with x2 = x + width.
    Raises `InputError` for a wrong shape, non-numeric, non-finite or too large values or degenerate
    boxes (negative size, or a point); lines, tiny boxes and boxes outside the image pass (module
    docstring). `ConfigError` for an unknown box_format.
    """
    if isinstance(boxes, CheckedBoxes):
        return boxes.xyxy
    if box_format not in BOX_FORMATS:
        raise ConfigError(f"unknown box_format {box_format!r}; valid: {', '.join(BOX_FORMATS)}")
    array = numeric_array(boxes)
    if array.shape == (0,):  # `[]`; other empty shapes, such as (4, 0), are wrong shapes
        array = array.reshape(0, _BOX_COLUMNS)
    if array.ndim != 2 or array.shape[1] != _BOX_COLUMNS:
        hint = "; pass one box as [box]" if array.ndim == 1 else ""
        raise InputError(f"boxes must have shape (N, 4), got {array.shape}{hint}")
    if not np.isfinite(array).all():
        bad = np.flatnonzero(~np.isfinite(array).all(axis=1))
        raise InputError(f"boxes contain NaN or infinite values (rows {bad[:5].tolist()})")
    if box_format == "xywh":
        with np.errstate(over="ignore"):
            array[:, 2:] += array[:, :2]
    _check_box_sizes(array, box_format)
    return array


def _check_box_sizes(boxes: np.ndarray, box_format: str) -> None:
    with np.errstate(over="ignore"):
        width, height = boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]
    overflow = np.flatnonzero(~(np.abs(boxes) <= MAX_COORDINATE).all(axis=1))
    if overflow.size:
        raise InputError(f"boxes {overflow[:5].tolist()} are too large: coordinates must lie within "
                         f"+-{MAX_COORDINATE:.0f} px")
    negative = np.flatnonzero((width < 0) | (height < 0))
    if negative.size:
        hint = "" if box_format == "xywh" else ": boxes are xyxy (x1, y1, x2, y2) unless box_format='xywh'"
        raise InputError(f"boxes {negative[:5].tolist()} have a negative width or height{hint}")
    empty = np.flatnonzero(np.maximum(width, height) < MIN_BOX_EXTENT)
    if empty.size:
        raise InputError(f"boxes {empty[:5].tolist()} have zero width and zero height (a point; sides under "
                         f"{MIN_BOX_EXTENT:.1e} px count as zero)")


def has_croppable_area(width, height):
    """Whether boxes of these widths and heights (px; arrays or scalars) cover an area a crop can be made of:
    both sides positive and not a point (`MIN_BOX_EXTENT`). Stricter than `boxes_xyxy`, which accepts lines:
    for boxes that come from a detector or a file, where a line is a box that missed the image."""
    return (np.minimum(width, height) > 0) & (np.maximum(width, height) >= MIN_BOX_EXTENT)


def centers_scales_from_boxes(boxes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return (centers (N, 2), scales (N, 2)) float64 for xyxy image-pixel boxes (N, 4).

    centers: box centres in image px. scales: the padded, aspect-corrected box (width, height) in units of
    PIXEL_STD px, as the official `_box2cs` (which works in float32; this works in float64).
    """
    boxes = boxes_xyxy(boxes)
    width, height = boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]
    centers = np.stack([boxes[:, 0] + width * 0.5, boxes[:, 1] + height * 0.5], axis=1)
    grown_width = np.where(width < ASPECT_RATIO * height, height * ASPECT_RATIO, width)
    grown_height = np.where(width > ASPECT_RATIO * height, width / ASPECT_RATIO, height)
    scales = np.stack([grown_width, grown_height], axis=1) / PIXEL_STD * BOX_PADDING
    return centers, scales


def _check_warp(warp: str) -> None:
    if warp not in WARPS:
        raise ConfigError(f"unknown warp {warp!r}; valid: {', '.join(WARPS)}")


def warps_from_boxes(
    boxes: np.ndarray, warp: str = "udp", *, size: tuple[int, int] = (INPUT_WIDTH, INPUT_HEIGHT)
) -> np.ndarray:
    """Return (N, 2, 3) float64 affine matrices mapping image px to crop px, one per xyxy box.

    `[x_crop, y_crop] = M @ [x, y, 1]`, the matrix `cv2.warpAffine` takes. size: output (width, height);
    the default is the network input; (HEATMAP_WIDTH, HEATMAP_HEIGHT) gives image px -> heatmap px, whose
    inverse is `image_points_from_heatmap`. warp: "udp" (official `get_warp_matrix` with rotation 0) or
    "classic" (official `get_affine_transform` with rotation 0).
    """
    _check_warp(warp)
    centers, scales = centers_scales_from_boxes(boxes)
    box_size = scales * PIXEL_STD
    out_size = np.asarray(size, dtype=np.float64)
    if warp == "udp":
        factor = (out_size - 1.0) / box_size
        offset = factor * (box_size * 0.5 - centers)
    else:
        # Classic: one isotropic factor from the box width; the centre maps to the output centre.
        factor = np.repeat(out_size[0] / box_size[:, :1], 2, axis=1)
        offset = out_size * 0.5 - factor * centers
    warps = np.zeros((len(centers), 2, 3), dtype=np.float64)
    warps[:, 0, 0], warps[:, 1, 1] = factor[:, 0], factor[:, 1]
    warps[:, :, 2] = offset
    return warps


def inverted_warps(warps: np.ndarray) -> np.ndarray:
    """Return the (N, 2, 3) inverses of (N, 2, 3) affine matrices (crop px -> image px for crop warps)."""
    warps = np.asarray(warps, dtype=np.float64)
    linear, shift = warps[:, :, :2], warps[:, :, 2:]
    inverse_linear = np.linalg.inv(linear)
    return np.concatenate([inverse_linear, -inverse_linear @ shift], axis=2)


def image_points_from_heatmap(
    points: np.ndarray,
    boxes: np.ndarray,
    warp: str = "udp",
    *,
    heatmap_size: tuple[int, int] = (HEATMAP_WIDTH, HEATMAP_HEIGHT),
) -> np.ndarray:
    """Return (N, K, 2) float64 image px for (N, K, 2) heatmap-px points (x, y) of the N xyxy boxes.

    The official `transform_preds`: udp uses the size-minus-one grid (heatmap x = 0 and x = W - 1 are the
    padded box's edges), classic uses box width / W per heatmap pixel. heatmap_size: (width, height).
    """
    _check_warp(warp)
    centers, scales = centers_scales_from_boxes(boxes)
    points = np.asarray(points, dtype=np.float64)
    if points.ndim != 3 or points.shape[2] != 2 or points.shape[0] != len(centers):
        raise InputError(f"points must have shape ({len(centers)}, K, 2), got {points.shape}")
    box_size = scales * PIXEL_STD
    grid = np.asarray(heatmap_size, dtype=np.float64) - (1.0 if warp == "udp" else 0.0)
    per_pixel = box_size / grid
    origin = centers - box_size * 0.5
    return points * per_pixel[:, None, :] + origin[:, None, :]
