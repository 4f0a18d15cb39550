"""Object keypoint similarity (OKS) between poses, and the OKS non-maximum suppression of the official
top-down evaluation (mmpose 0.x `oks_iou` / `oks_nms`, which ViTPose's COCO numbers use). Numpy only."""

from __future__ import annotations

import numpy as np

from ..errors import ConfigError

#: Poses of one image overlapping a better-scoring one by more than this OKS are dropped (official oks_thr).
DEFAULT_OKS_NMS_THRESHOLD = 0.9


def oks_to_many(pose: np.ndarray, others: np.ndarray, area: float, other_areas: np.ndarray,
                sigmas: np.ndarray) -> np.ndarray:
    """(M,) OKS of `pose` (K, 2) image px against `others` (M, K, 2), every keypoint counted.

    area / other_areas: the poses' object areas in px^2 (their mean scales the distances);
    sigmas: (K,) per-keypoint COCO sigmas.
    """
    variances = (2.0 * np.asarray(sigmas, np.float64)) ** 2
    squared = ((others - pose[None]) ** 2).sum(axis=2)
    scale = (area + other_areas)[:, None] / 2.0 + np.spacing(1)
    return np.exp(-squared / variances[None] / scale / 2.0).mean(axis=1)


def kept_by_oks_nms(keypoints: np.ndarray, scores: np.ndarray, areas: np.ndarray, sigmas,
                    threshold: float = DEFAULT_OKS_NMS_THRESHOLD) -> np.ndarray:
    """Indices (int64, best score first) of the poses kept by greedy OKS NMS within one image.

    keypoints: (N, K, 2) image px; scores: (N,) pose scores; areas: (N,) px^2; sigmas: (K,).
    A pose is dropped when its OKS with an already kept, higher-scoring pose exceeds `threshold`.
    """
    sigmas = np.asarray(sigmas, np.float64)
    if keypoints.ndim != 3 or keypoints.shape[1] != len(sigmas):
        raise ConfigError(f"OKS needs (N, {len(sigmas)}, 2) keypoints for {len(sigmas)} sigmas, got {keypoints.shape}")
    points = keypoints.astype(np.float64)
    order = np.argsort(-np.asarray(scores, np.float64), kind="stable")
    kept = []
    while len(order):
        best, rest = order[0], order[1:]
        kept.append(best)
        overlap = oks_to_many(points[best], points[rest], float(areas[best]), areas[rest], sigmas)
        order = rest[overlap <= threshold]
    return np.array(kept, np.int64)
