"""Heatmaps -> keypoints, one implementation for numpy (CPU) and CuPy (GPU): pass the module as `xp`.

Coordinates are heatmap px (x, y), pixel centres at integers; `geometry.image_points_from_heatmap` maps them
to the image. The methods reproduce the official ViTPose (mmpose 0.x `top_down_eval`) decoders:

- "argmax": the maximum's pixel; keypoints whose maximum is <= 0 get (-1, -1), as `_get_max_preds`.
- "quarter-offset": argmax moved 0.25 px toward the higher neighbour on each axis, only when
  1 < x < W - 1 and 1 < y < H - 1 (the official, strict bounds).
- "dark": DARK (`post_process='unbiased'`): each map blurred with zero padding and rescaled to its old
  maximum, log (floor 1e-10), one Newton step with step-2 second derivatives when 1 < x < W - 2 and
  1 < y < H - 2 and the Hessian is invertible.
- "dark-udp": `post_dark_udp`: blur with reflect-101 borders, clip to [0.001, 50], log, one Newton step
  from central differences on the edge-padded map (Hessian + float32 eps * I).

One departure from the official code, for both DARK variants: a Newton step longer than the blur
kernel's radius (5 px for the default 11) on an axis is not taken: it leaves the neighbourhood the
log-quadratic model describes. The official code takes it, and noisy or flat maps then give keypoints
millions of pixels away; peaks, even ones cut by the map's edge, need far shorter steps.

The blur is OpenCV's `GaussianBlur(kernel, kernel, sigma=0)` written with xp ops (no scipy, no cv2), so CuPy
runs it too; `blur_sigma` overrides the sigma (Hugging Face's processor uses 0.8). Scores are the heatmap
maxima (before any blur), float32.
"""

from __future__ import annotations

import numpy as np

from .errors import ConfigError, InputError
from .keypoints import DARK_BLUR_KERNEL, DECODERS

#: OpenCV's fixed kernels for sigma <= 0 and sizes up to 7 (`getGaussianKernel`).
_SMALL_GAUSSIANS = {
    1: (1.0,),
    3: (0.25, 0.5, 0.25),
    5: (0.0625, 0.25, 0.375, 0.25, 0.0625),
    7: (0.03125, 0.109375, 0.21875, 0.28125, 0.21875, 0.109375, 0.03125),
}
#: "dark": floor before the log; "dark-udp": clip range before the log.
DARK_LOG_FLOOR = 1e-10
DARK_UDP_CLIP = (0.001, 50.0)
QUARTER_OFFSET = 0.25
BLUR_BORDERS = ("reflect101", "zero")
_NDIM = 4


def gaussian_kernel(size: int, sigma: float | None = None) -> np.ndarray:
    """(size,) float64 1-D Gaussian weights summing to 1, as OpenCV's `getGaussianKernel(size, sigma)`.

    sigma None: OpenCV's rule for sigma <= 0, 0.3 * ((size - 1) / 2 - 1) + 0.8 (2.0 for size 11), with its
    fixed tables for sizes up to 7.
    """
    if sigma is None and size in _SMALL_GAUSSIANS:
        return np.array(_SMALL_GAUSSIANS[size], dtype=np.float64)
    if sigma is None:
        sigma = 0.3 * ((size - 1) * 0.5 - 1) + 0.8
    offsets = np.arange(size, dtype=np.float64) - (size - 1) * 0.5
    weights = np.exp(-(offsets**2) / (2 * sigma * sigma))
    return weights / weights.sum()


def blur_matrix(length: int, weights: np.ndarray, border: str = "reflect101") -> np.ndarray:
    """(length, length) float64 B with `x @ B` = the 1-D convolution of x (last axis) with `weights`.

    The border rule is folded into B: "reflect101" (OpenCV's default, `dcb|abcd|cba`) or "zero".
    """
    if border not in BLUR_BORDERS:
        raise ConfigError(f"unknown blur border {border!r}; valid: {', '.join(BLUR_BORDERS)}")
    matrix = np.zeros((length, length), dtype=np.float64)
    radius = len(weights) // 2
    period = max(2 * (length - 1), 1)
    for offset, weight in zip(range(-radius, radius + 1), weights):
        source = np.arange(length) + offset
        if border == "zero":
            keep = (source >= 0) & (source < length)
            np.add.at(matrix, (source[keep], np.arange(length)[keep]), weight)
            continue
        folded = np.abs(source) % period
        folded = np.where(folded > length - 1, period - folded, folded)
        np.add.at(matrix, (folded, np.arange(length)), weight)
    return matrix


def blurred_heatmaps(
    heatmaps, kernel: int = DARK_BLUR_KERNEL, sigma: float | None = None, border: str = "reflect101", xp=np
):
    """Gaussian blur of (N, K, h, w) float32 maps over (h, w), as `cv2.GaussianBlur(map, (k, k), sigma)`.

    border: "reflect101" (OpenCV's default) or "zero" (constant 0 outside). Two small matrix products (the
    separable kernel with its border folded in): fast on CPU BLAS and cuBLAS alike.
    """
    weights = gaussian_kernel(kernel, sigma)
    height, width = heatmaps.shape[-2:]
    along_width = xp.asarray(blur_matrix(width, weights, border).astype(np.float32))
    along_height = xp.asarray(blur_matrix(height, weights, border).T.astype(np.float32))
    return xp.matmul(along_height, xp.matmul(heatmaps, along_width))


def _checked(heatmaps, method: str, blur_kernel: int, blur_sigma, xp):
    if method not in DECODERS:
        raise ConfigError(f"unknown decode method {method!r}; valid: {', '.join(DECODERS)}")
    if blur_kernel < 1 or blur_kernel % 2 != 1:
        raise ConfigError(f"blur_kernel must be a positive odd number, got {blur_kernel}")
    if blur_sigma is not None and not blur_sigma > 0:
        raise ConfigError(f"blur_sigma must be positive or None, got {blur_sigma}")
    heatmaps = xp.asarray(heatmaps, dtype=xp.float32)
    if heatmaps.ndim != _NDIM or 0 in heatmaps.shape[2:]:
        raise InputError(f"heatmaps must have shape (N, K, h, w) with h, w > 0, got {heatmaps.shape}")
    return heatmaps


def keypoints_from_heatmaps(
    heatmaps,
    method: str = "dark-udp",
    blur_kernel: int = DARK_BLUR_KERNEL,
    xp=np,
    *,
    blur_sigma: float | None = None,
):
    """Return (coords (N, K, 2) float32 heatmap px (x, y), scores (N, K) float32) of (N, K, h, w) heatmaps.

    method: "argmax", "quarter-offset", "dark" or "dark-udp" (module docstring); blur_kernel: the DARK
    Gaussian size (11 in every official config). xp: numpy or cupy; inputs and outputs live on xp.
    blur_sigma: None = the official pipeline (OpenCV's sigma for blur_kernel: 2.0 for 11). Hugging Face
    transformers' `VitPoseImageProcessor` blurs with sigma 0.8 (scipy, symmetric borders) instead; 0.8
    reproduces it to ~1e-4 px except for maxima in the 5-pixel border band, where the borders differ.
    """
    heatmaps = _checked(heatmaps, method, blur_kernel, blur_sigma, xp)
    coords, scores = _argmax_coords(heatmaps, xp)
    if method == "quarter-offset":
        coords = _quarter_offset(heatmaps, coords, xp)
    elif method == "dark":
        coords = _dark(heatmaps, coords, blur_kernel, blur_sigma, xp)
    elif method == "dark-udp":
        coords = _dark_udp(heatmaps, coords, blur_kernel, blur_sigma, xp)
    return coords.astype(xp.float32), scores


def _argmax_coords(heatmaps, xp):
    n, k, height, width = heatmaps.shape
    flat = heatmaps.reshape(n, k, height * width)
    index = xp.argmax(flat, axis=2)
    scores = xp.max(flat, axis=2)
    coords = xp.stack([index % width, index // width], axis=2).astype(xp.float32)
    coords = xp.where((scores > 0)[..., None], coords, xp.float32(-1))
    return coords, scores.astype(xp.float32)


def _values_at(maps, x, y, xp):
    """maps (N, K, h, w) sampled at integer (N, K) arrays x, y (clamped into the map)."""
    height, width = maps.shape[-2:]
    flat_index = xp.clip(y, 0, height - 1) * width + xp.clip(x, 0, width - 1)
    flat = maps.reshape(maps.shape[0], maps.shape[1], height * width)
    return xp.take_along_axis(flat, flat_index[..., None], axis=2)[..., 0]


def _quarter_offset(heatmaps, coords, xp):
    height, width = heatmaps.shape[-2:]
    x, y = coords[..., 0].astype(xp.int64), coords[..., 1].astype(xp.int64)
    inside = (x > 1) & (x < width - 1) & (y > 1) & (y < height - 1)
    diff_x = _values_at(heatmaps, x + 1, y, xp) - _values_at(heatmaps, x - 1, y, xp)
    diff_y = _values_at(heatmaps, x, y + 1, xp) - _values_at(heatmaps, x, y - 1, xp)
    shift = xp.stack([xp.sign(diff_x), xp.sign(diff_y)], axis=2) * QUARTER_OFFSET
    return coords + xp.where(inside[..., None], shift, 0).astype(xp.float32)


def _newton_step(dx, dy, dxx, dxy, dyy, max_step: float, xp):
    """(N, K, 2) float64 step -(Hessian^-1 @ gradient) for 2x2 symmetric Hessians.

    0 where the Hessian is singular (as the official code) and where the step is longer than `max_step`
    px on an axis (the official code takes it: up to 1e9 px on noisy maps).
    """
    dx, dy, dxx, dxy, dyy = (v.astype(xp.float64) for v in (dx, dy, dxx, dxy, dyy))
    det = dxx * dyy - dxy * dxy
    singular = det == 0
    safe = xp.where(singular, 1.0, det)
    step = xp.stack([-(dyy * dx - dxy * dy) / safe, -(dxx * dy - dxy * dx) / safe], axis=2)
    invalid = singular | (xp.abs(step) > max_step).any(axis=2)
    return xp.where(invalid[..., None], 0.0, step)


def _dark(heatmaps, coords, blur_kernel: int, blur_sigma, xp):
    height, width = heatmaps.shape[-2:]
    peak = heatmaps.max(axis=(2, 3), keepdims=True)
    blurred = blurred_heatmaps(heatmaps, blur_kernel, blur_sigma, border="zero", xp=xp)
    blurred_peak = blurred.max(axis=(2, 3), keepdims=True)
    # All-zero maps (argmax already -1, so never refined) would divide 0 by 0.
    blurred = blurred * (peak / xp.where(blurred_peak == 0, xp.float32(1), blurred_peak))
    logs = xp.log(xp.maximum(blurred, xp.float32(DARK_LOG_FLOOR)))
    x, y = coords[..., 0].astype(xp.int64), coords[..., 1].astype(xp.int64)

    def at(ox, oy):
        return _values_at(logs, x + ox, y + oy, xp)

    center = at(0, 0)
    dx, dy = 0.5 * (at(1, 0) - at(-1, 0)), 0.5 * (at(0, 1) - at(0, -1))
    dxx = 0.25 * (at(2, 0) - 2 * center + at(-2, 0))
    dxy = 0.25 * (at(1, 1) - at(1, -1) - at(-1, 1) + at(-1, -1))
    dyy = 0.25 * (at(0, 2) - 2 * center + at(0, -2))
    inside = (x > 1) & (x < width - 2) & (y > 1) & (y < height - 2)
    step = _newton_step(dx, dy, dxx, dxy, dyy, max(1, blur_kernel // 2), xp)
    return coords + xp.where(inside[..., None], step, 0.0).astype(xp.float32)


def _dark_udp(heatmaps, coords, blur_kernel: int, blur_sigma, xp):
    n, k, height, width = heatmaps.shape
    low, high = DARK_UDP_CLIP
    blurred = blurred_heatmaps(heatmaps, blur_kernel, blur_sigma, xp=xp)
    logs = xp.log(xp.clip(blurred, xp.float32(low), xp.float32(high)))
    # Gather from the flattened edge-padded maps exactly as `post_dark_udp` does, so even (-1, -1) argmax
    # results (maximum <= 0) read the same neighbours (wrapping across maps) as the official code.
    padded = xp.pad(logs, ((0, 0), (0, 0), (1, 1), (1, 1)), mode="edge").ravel()
    row = width + 2
    map_offset = (row * (height + 2)) * xp.arange(n * k, dtype=xp.int64).reshape(n, k)
    index = (coords[..., 0] + 1).astype(xp.int64) + (coords[..., 1] + 1).astype(xp.int64) * row + map_offset

    def at(offset):
        # Python-style modulo = numpy's negative-index wrap (cupy.take has no mode argument).
        return padded[(index + offset) % padded.size]

    center, right, left, down, up = at(0), at(1), at(-1), at(row), at(-row)
    dx, dy = 0.5 * (right - left), 0.5 * (down - up)
    dxx, dyy = right - 2 * center + left, down - 2 * center + up
    # The official operation order, in float32 like the official code.
    dxy = 0.5 * (at(row + 1) - right - down + center + center - left - up + at(-row - 1))
    eps = float(np.finfo(np.float32).eps)
    dxx, dyy = dxx.astype(xp.float64) + eps, dyy.astype(xp.float64) + eps
    step = _newton_step(dx, dy, dxx, dxy, dyy, max(1, blur_kernel // 2), xp)
    return coords + step.astype(xp.float32)


def flip_back(heatmaps_of_flipped, flip_index, shift: bool, xp=np):
    """Return (N, K, h, w) heatmaps of the unflipped crops from those of horizontally flipped crops.

    flip_index: (K,) permutation, mirrored keypoint i = original keypoint flip_index[i]
    (`KeypointSet.flip_index`). Mirrors the width axis and swaps left/right channels like the official
    `flip_back`; shift=True then moves the maps one pixel right (column 0 kept), the official
    `shift_heatmap` for the classic warp.
    """
    heatmaps = xp.asarray(heatmaps_of_flipped)
    index = np.asarray(flip_index, dtype=np.int64)
    if heatmaps.ndim != _NDIM:
        raise InputError(f"heatmaps must have shape (N, K, h, w), got {heatmaps.shape}")
    if index.shape != (heatmaps.shape[1],) or not np.array_equal(np.sort(index), np.arange(len(index))):
        raise ConfigError(f"flip_index must be a permutation of the {heatmaps.shape[1]} keypoints")
    back = heatmaps[:, xp.asarray(index), :, ::-1]
    if shift:
        back = xp.concatenate([back[..., :1], back[..., :-1]], axis=3)
    return xp.ascontiguousarray(back)
