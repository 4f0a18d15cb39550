"""Greedy non-maximum suppression for a batch of images at once, on numpy or CuPy (`xp`).

The result is the classic greedy NMS (sort by score; keep a box unless a kept, higher-scoring box overlaps it
by IoU > threshold), computed without a per-box host loop so that it runs on the GPU too: with S[i, j] =
"i outranks j and IoU(i, j) > threshold", keep[j] = not any(keep[i] and S[i, j]) is solved by iterating from
keep = all. Iteration t fixes the t highest-ranked boxes for good, so it ends (usually after a few rounds:
as many as the longest chain of boxes suppressing each other).
"""

from __future__ import annotations

import numpy as np


def pairwise_iou(boxes, xp=np):
    """(B, K, K) IoU of every pair of the (B, K, 4) xyxy `boxes` of each image (0 where a union is empty)."""
    x1, y1, x2, y2 = (boxes[..., i] for i in range(4))
    area = (x2 - x1).clip(0) * (y2 - y1).clip(0)
    width = (xp.minimum(x2[:, :, None], x2[:, None, :]) - xp.maximum(x1[:, :, None], x1[:, None, :])).clip(0)
    height = (xp.minimum(y2[:, :, None], y2[:, None, :]) - xp.maximum(y1[:, :, None], y1[:, None, :])).clip(0)
    inter = width * height
    union = area[:, :, None] + area[:, None, :] - inter
    return xp.where(union > 0, inter / xp.where(union > 0, union, 1), 0)


def kept_by_nms(boxes, scores, valid, threshold: float, xp=np):
    """(B, K) bool: which of each image's K boxes greedy NMS keeps.

    boxes: (B, K, 4) xyxy; scores: (B, K); valid: (B, K) bool, False for padding rows (never kept, never
    suppress). Boxes of different classes should be offset apart by the caller (class-aware NMS).
    """
    count = boxes.shape[1]
    if count == 0:
        return xp.zeros(scores.shape, dtype=bool)
    order = ranking(xp.where(valid, scores, -xp.inf), xp)
    ranked = xp.take_along_axis(boxes, order[:, :, None], axis=1)
    ranked_valid = xp.take_along_axis(valid, order, axis=1)
    outranks = xp.triu(xp.ones((count, count), dtype=bool), k=1)
    suppresses = (pairwise_iou(ranked, xp) > threshold) & outranks & ranked_valid[:, :, None]
    keep = ranked_valid.copy()
    for _ in range(count):
        updated = ranked_valid & ~(keep[:, :, None] & suppresses).any(axis=1)
        if bool((updated == keep).all()):
            break
        keep = updated
    return xp.take_along_axis(keep, xp.argsort(order, axis=1), axis=1)


def ranking(scores, xp=np):
    """(B, K) indices sorting each row of `scores` from high to low, ties in index order (numpy's stable sort;
    CuPy's sort is stable)."""
    if xp is np:
        return np.argsort(-scores, axis=1, kind="stable")
    return xp.argsort(-scores, axis=1)
