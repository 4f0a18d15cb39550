"""Standard multi-object tracking scores of a tracker's output against ground truth: CLEAR MOT (MOTA, id
switches) and IDF1, for the tracking tests and the tracker benchmark.

A sequence is a list with one (ids (n,) int, boxes (n, 4) xyxy) pair per frame. A ground-truth box and a
hypothesis box correspond in a frame when their IoU is at least `min_iou` (0.5, the MOT Challenge's).

- CLEAR MOT (Bernardin & Stiefelhagen, 2008): per frame, correspondences of the previous frame are kept while
  they still overlap, the rest are matched by a linear assignment; a ground-truth id matched to another
  hypothesis id than the last one it was matched to is an id switch. MOTA = 1 - (misses + false positives
  + id switches) / ground-truth boxes.
- IDF1 (Ristani et al., 2016): each ground-truth id is paired with at most one hypothesis id for the whole
  sequence, to maximise the frames where the pair corresponds (IDTP); IDF1 = 2 IDTP / (ground-truth boxes +
  hypothesis boxes).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..dependencies import import_optional
from .box_matching import iou_matrix, matched_pairs

#: A ground-truth box and a hypothesis box correspond at this IoU or more.
MIN_IOU = 0.5

Sequence = list[tuple[np.ndarray, np.ndarray]]


@dataclass(frozen=True)
class TrackingScores:
    """Counts and scores of one sequence (see the module docstring)."""

    ground_truth: int
    hypotheses: int
    misses: int
    false_positives: int
    id_switches: int
    idtp: int

    @property
    def mota(self) -> float:
        return 1.0 - (self.misses + self.false_positives + self.id_switches) / max(self.ground_truth, 1)

    @property
    def idf1(self) -> float:
        total = self.ground_truth + self.hypotheses
        return 2.0 * self.idtp / total if total else 1.0

    def describe(self) -> str:
        return (f"MOTA {self.mota:.3f}, IDF1 {self.idf1:.3f}, {self.id_switches} id switches, "
                f"{self.misses} misses, {self.false_positives} false positives of {self.ground_truth} boxes")


def tracking_scores(truth: Sequence, hypotheses: Sequence, min_iou: float = MIN_IOU) -> TrackingScores:
    """CLEAR MOT counts and IDF1 of `hypotheses` against `truth` (equal numbers of frames)."""
    if len(truth) != len(hypotheses):
        raise ValueError(f"{len(truth)} ground-truth frames but {len(hypotheses)} hypothesis frames")
    previous: dict[int, int] = {}  # ground-truth id -> hypothesis id it corresponded to last (any frame)
    misses = false_positives = switches = 0
    together: dict[tuple[int, int], int] = {}  # (gt id, hyp id) -> frames they correspond
    for (gt_ids, gt_boxes), (hyp_ids, hyp_boxes) in zip(truth, hypotheses):
        gt_ids, hyp_ids = np.asarray(gt_ids, np.int64).reshape(-1), np.asarray(hyp_ids, np.int64).reshape(-1)
        iou = iou_matrix(gt_boxes, hyp_boxes)
        pairs = _frame_matches(gt_ids, hyp_ids, iou, previous, min_iou)
        for g, h in pairs:
            gt, hyp = int(gt_ids[g]), int(hyp_ids[h])
            switches += gt in previous and previous[gt] != hyp
            previous[gt] = hyp
        misses += len(gt_ids) - len(pairs)
        false_positives += len(hyp_ids) - len(pairs)
        for g, h in zip(*np.nonzero(iou >= min_iou)):
            key = (int(gt_ids[g]), int(hyp_ids[h]))
            together[key] = together.get(key, 0) + 1
    total_gt = sum(len(np.asarray(ids).reshape(-1)) for ids, _ in truth)
    total_hyp = sum(len(np.asarray(ids).reshape(-1)) for ids, _ in hypotheses)
    return TrackingScores(total_gt, total_hyp, misses, false_positives, switches, _idtp(together))


def _frame_matches(gt_ids: np.ndarray, hyp_ids: np.ndarray, iou: np.ndarray, previous: dict[int, int],
                   min_iou: float) -> list[tuple[int, int]]:
    """(gt row, hyp row) correspondences of one frame: last frame's pairs that still overlap, then the rest
    by linear assignment."""
    hyp_row = {int(h): i for i, h in enumerate(hyp_ids)}
    kept, used = [], set()
    for g, gt in enumerate(gt_ids):
        h = hyp_row.get(previous.get(int(gt), -1))
        if h is not None and h not in used and iou[g, h] >= min_iou:
            kept.append((g, h))
            used.add(h)
    free_gt = np.setdiff1d(np.arange(len(gt_ids)), [g for g, _ in kept])
    free_hyp = np.setdiff1d(np.arange(len(hyp_ids)), [h for _, h in kept])
    pairs, _, _ = matched_pairs(iou[np.ix_(free_gt, free_hyp)], min_iou)
    return kept + [(int(free_gt[g]), int(free_hyp[h])) for g, h in pairs]


def _idtp(together: dict[tuple[int, int], int]) -> int:
    """The largest total of corresponding frames over one-to-one pairings of ground-truth and hypothesis ids."""
    if not together:
        return 0
    gts = sorted({g for g, _ in together})
    hyps = sorted({h for _, h in together})
    counts = np.zeros((len(gts), len(hyps)))
    for (g, h), frames in together.items():
        counts[gts.index(g), hyps.index(h)] = frames
    optimize = import_optional("scipy.optimize", "tracking scores")
    rows, cols = optimize.linear_sum_assignment(counts, maximize=True)
    return int(counts[rows, cols].sum())
