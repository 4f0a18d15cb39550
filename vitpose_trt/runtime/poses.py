"""`Poses`: what a `PoseEstimator` returns for one image, and its COCO keypoint-result form."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: Keypoints scoring at or below this don't count towards the pose score (the official `vis_thr`).
VISIBLE_SCORE_THRESHOLD = 0.2
#: COCO's category id of "person".
COCO_PERSON_CATEGORY = 1


def float32_values(array) -> list:
    """float32 numbers as nested lists of the shortest decimals that read back as the same float32 (0.9, not
    0.8999999761581421): what results files hold, a third shorter, no value changed."""
    return np.asarray(array, np.float32).astype(str).astype(np.float64).tolist()


@dataclass(frozen=True, eq=False)
class Poses:
    """Keypoints of N boxes in one image.

    keypoints: (N, K, 2) float32 image px (x, y), pixel centres at integer coordinates.
    scores: (N, K) float32 heatmap maxima (the flip-test average when flip test is on).
    boxes: (N, 4) float32 xyxy image px, as passed in (converted from xywh when box_format="xywh").
    box_scores: (N,) float32 detector scores when the boxes came with a 5th column, else None.
    """

    keypoints: np.ndarray
    scores: np.ndarray
    boxes: np.ndarray
    box_scores: np.ndarray | None = None

    @classmethod
    def empty(cls, num_keypoints: int) -> Poses:
        """Poses for no boxes: (0, K, 2), (0, K) and (0, 4) float32 arrays."""
        return cls(
            keypoints=np.zeros((0, num_keypoints, 2), np.float32),
            scores=np.zeros((0, num_keypoints), np.float32),
            boxes=np.zeros((0, 4), np.float32),
        )

    def __len__(self) -> int:
        return len(self.keypoints)

    @property
    def num_keypoints(self) -> int:
        return self.keypoints.shape[1]

    def pose_scores(self) -> np.ndarray:
        """(N,) float32 instance scores, the official top-down rescoring.

        Mean of the keypoint scores above VISIBLE_SCORE_THRESHOLD (0 when none is), times the box score
        when the boxes came with one. No OKS-NMS is applied.
        """
        visible = self.scores > VISIBLE_SCORE_THRESHOLD
        count = visible.sum(axis=1)
        total = np.where(visible, self.scores, 0.0).sum(axis=1)
        mean = np.divide(total, count, out=np.zeros_like(total), where=count > 0)
        if self.box_scores is not None:
            mean = mean * self.box_scores
        return mean.astype(np.float32)

    def to_coco(self, image_id: int, category_id: int = COCO_PERSON_CATEGORY) -> list[dict]:
        """COCO keypoint-detection results, one dict per box, ready for `json.dump` / `COCO.loadRes`.

        Each dict: image_id, category_id, keypoints (flat [x, y, score] * K, image px), score
        (`pose_scores()`: mean visible keypoint score x box score) and bbox (x, y, width, height).
        """
        triples = np.concatenate([self.keypoints, self.scores[:, :, None]], axis=2)
        flat = triples.reshape(len(self), 3 * self.num_keypoints)
        xywh = self.boxes.astype(np.float64).copy()
        xywh[:, 2:] -= xywh[:, :2]
        results = []
        for keypoints, score, bbox in zip(float32_values(flat), float32_values(self.pose_scores()), xywh.tolist()):
            results.append(
                {
                    "image_id": image_id,
                    "category_id": category_id,
                    "keypoints": keypoints,
                    "score": score,
                    "bbox": bbox,
                }
            )
        return results
