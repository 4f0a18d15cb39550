"""Box overlaps and one-to-one matching of two sets of boxes, the step shared by tracking and its metrics.

Boxes are (N, 4) float xyxy image px. Matching is a linear assignment (SciPy's `linear_sum_assignment`,
imported when first needed) on 1 - IoU, keeping only pairs that overlap at least `min_iou`.
"""

from __future__ import annotations

import numpy as np

from ..dependencies import import_optional


def iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(N, M) float64 intersection over union of boxes a (N, 4) and b (M, 4), xyxy; 0 for empty boxes."""
    a = np.asarray(a, np.float64).reshape(-1, 4)
    b = np.asarray(b, np.float64).reshape(-1, 4)
    left_top = np.maximum(a[:, None, :2], b[None, :, :2])
    right_bottom = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.prod(np.clip(right_bottom - left_top, 0.0, None), axis=2)
    area_a = np.prod(np.clip(a[:, 2:] - a[:, :2], 0.0, None), axis=1)
    area_b = np.prod(np.clip(b[:, 2:] - b[:, :2], 0.0, None), axis=1)
    union = area_a[:, None] + area_b[None, :] - inter
    return np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)


def matched_pairs(similarity: np.ndarray, min_similarity: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The one-to-one pairs of rows and columns that minimise the total of (1 - similarity) over the pairs
    plus (1 - min_similarity) / 2 for every row and column left unpaired: a pair is made only where it is
    worth more than leaving both alone (similarity > min_similarity), and a strong pair is never broken up
    to make two weak ones.

    similarity: (N, M), e.g. `iou_matrix`. Returns (matches (P, 2) int64 [row, column] by row, unmatched
    rows (N',) int64, unmatched columns (M',) int64), each sorted.
    """
    rows_count, cols_count = similarity.shape
    nothing = np.zeros((0, 2), np.int64)
    if rows_count == 0 or cols_count == 0 or not (similarity >= min_similarity).any():
        return nothing, np.arange(rows_count), np.arange(cols_count)
    optimize = import_optional("scipy.optimize", "tracking (box association)")
    alone = (1.0 - min_similarity) / 2
    forbidden = 2.0 * (rows_count + cols_count + 1)  # more than any allowed total
    cost = np.full((rows_count + cols_count, cols_count + rows_count), forbidden)
    cost[:rows_count, :cols_count] = np.where(similarity >= min_similarity, 1.0 - similarity, forbidden)
    cost[np.arange(rows_count), cols_count + np.arange(rows_count)] = alone  # row left unpaired
    cost[rows_count + np.arange(cols_count), np.arange(cols_count)] = alone  # column left unpaired
    cost[rows_count:, cols_count:] = 0.0
    rows, cols = optimize.linear_sum_assignment(cost)
    real = (rows < rows_count) & (cols < cols_count)
    real &= similarity[np.minimum(rows, rows_count - 1), np.minimum(cols, cols_count - 1)] >= min_similarity
    matches = np.stack([rows[real], cols[real]], axis=1).astype(np.int64)
    matches = matches[np.argsort(matches[:, 0], kind="stable")]
    return (matches, np.setdiff1d(np.arange(rows_count), matches[:, 0]),
            np.setdiff1d(np.arange(cols_count), matches[:, 1]))
