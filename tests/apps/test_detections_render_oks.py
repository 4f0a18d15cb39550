"""Detections files, skeleton drawing and OKS NMS (against a loop transcription of mmpose's oks_iou)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from vitpose_trt.apps.detections import ANY_CATEGORY, Detections
from vitpose_trt.apps.evaluation import sigmas_for
from vitpose_trt.apps.oks import kept_by_oks_nms, oks_to_many
from vitpose_trt.apps.render import (
    CENTRE_BGR,
    LEFT_BGR,
    PIXELS_PER_LINE_WIDTH,
    RIGHT_BGR,
    drawn_poses,
    side_colors,
)
from vitpose_trt.errors import ConfigError, InputError
from vitpose_trt.keypoints import COCO, KEYPOINT_SETS, WHOLEBODY
from vitpose_trt.runtime import Poses


def test_detections_filter_by_category_and_score_and_skip_empty_boxes(tmp_path):
    entries = [
        {"image_id": 5, "bbox": [1, 2, 30, 40], "score": 0.9, "category_id": 1},
        {"image_id": 5, "bbox": [1, 2, 0, 40], "score": 0.9, "category_id": 1},
        {"image_id": 5, "bbox": [1, 2, 1e-9, 1e-9], "score": 0.9, "category_id": 1},  # a point to the crop
        {"image_id": 5, "bbox": [3, 4, 10, 10], "score": 0.1, "category_id": 1},
        {"image_id": 5, "bbox": [3, 4, 10, 10], "score": 0.8, "category_id": 2},
        {"file_name": "sub/cat.jpg", "bbox": [0, 0, 5, 6]},
    ]
    (tmp_path / "d.json").write_text(json.dumps(entries))
    dets = Detections.from_file(tmp_path / "d.json", min_score=0.5)
    assert len(dets) == 2 and dets.skipped == 2
    boxes, categories = dets.boxes_for(5, "other.jpg")
    np.testing.assert_array_equal(boxes, [[1, 2, 30, 40, 0.9]])
    boxes, categories = dets.boxes_for(7, "cat.jpg")  # matched by base name, score defaults to 1
    np.testing.assert_array_equal(boxes, [[0, 0, 5, 6, 1.0]])
    np.testing.assert_array_equal(categories, [1])
    everything = Detections.from_file(tmp_path / "d.json", category_id=ANY_CATEGORY)
    assert len(everything) == 4 and everything.boxes_for(5)[1].tolist() == [1, 1, 2]
    assert everything.boxes_for(6)[0].shape == (0, 5)


@pytest.mark.parametrize("content, message", [
    ('{"image_id": 1}', "JSON list of objects"),
    ('[{"bbox": [1, 2, 3, 4]}]', "integer image_id or a file_name"),
    ('[{"image_id": 1, "bbox": [1, 2, 3, "4"]}]', "finite numbers"),
    ('[{"image_id": 1, "bbox": [1, 2, 3, 4], "score": "high"}]', "score must be a number"),
])
def test_malformed_detections_raise_input_error(tmp_path, content, message):
    (tmp_path / "d.json").write_text(content)
    with pytest.raises(InputError, match=message):
        Detections.from_file(tmp_path / "d.json")


def test_side_colours_follow_the_keypoint_names():
    points, edges = side_colors(COCO)
    assert points[0] == CENTRE_BGR and points[1] == LEFT_BGR and points[2] == RIGHT_BGR
    assert edges[COCO.skeleton.index((15, 13))] == LEFT_BGR and edges[COCO.skeleton.index((5, 6))] == CENTRE_BGR
    for kset in KEYPOINT_SETS.values():
        points, edges = side_colors(kset)
        assert len(points) == kset.num_keypoints and len(edges) == len(kset.skeleton)


def test_drawing_marks_keypoints_above_the_threshold_only(astronaut_bgr):
    # On a circle: no skeleton edge (a chord) passes over another keypoint.
    angles = np.linspace(0, 2 * np.pi, 17, endpoint=False)
    keypoints = (256 + 200 * np.stack([np.cos(angles), np.sin(angles)], axis=1))[None].astype(np.float32)
    scores = np.where(np.arange(17) % 2 == 0, 0.9, 0.1)[None].astype(np.float32)
    poses = Poses(keypoints, scores, np.array([[50, 30, 460, 480]], np.float32))
    drawn = drawn_poses(astronaut_bgr, poses, COCO, score_threshold=0.5, boxes=False)
    assert drawn is not astronaut_bgr and astronaut_bgr.flags.writeable
    for index, (x, y) in enumerate(keypoints[0].round().astype(int)):
        changed = np.any(drawn[y, x] != astronaut_bgr[y, x])
        assert changed == (index % 2 == 0), index
    np.testing.assert_array_equal(drawn_poses(astronaut_bgr, poses, COCO, 0.95, boxes=False), astronaut_bgr)
    with pytest.raises(ConfigError, match="17 keypoints"):
        drawn_poses(astronaut_bgr, poses, WHOLEBODY)


@pytest.mark.parametrize("height, width", [(96, 64), (240, 320), (512, 512)])
def test_boxes_show_when_no_keypoint_is_confident(height, width):
    """Random weights score every keypoint below the threshold: the first run's picture still shows the
    box, and the whole-image box of a run without detections on all four sides (a 1-px line at x = W,
    one past the last column, would be off the image)."""
    image = np.full((height, width, 3), 128, np.uint8)
    poses = Poses(np.full((1, 17, 2), [width / 2, height / 2], np.float32), np.full((1, 17), 0.05, np.float32),
                  np.array([[0, 0, width, height]], np.float32))
    changed = np.any(drawn_poses(image, poses, COCO) != image, axis=2)
    strip = 2 * max(1, round(min(height, width) / PIXELS_PER_LINE_WIDTH))
    for side in (changed[:strip], changed[-strip:], changed[:, :strip].T, changed[:, -strip:].T):
        assert side.any(axis=0).all()  # an unbroken line along the whole edge
    assert not changed[strip:-strip, strip:-strip].any()  # and no keypoint or edge inside
    np.testing.assert_array_equal(drawn_poses(image, poses, COCO, boxes=False), image)


def _mmpose_oks_iou(g, d, a_g, a_d, sigmas):
    """mmpose 0.x `oks_iou`, transcribed as a loop over flat [x, y, score] * K arrays."""
    variances = (sigmas * 2) ** 2
    ious = np.zeros(len(d))
    for n in range(len(d)):
        dx, dy = d[n, 0::3] - g[0::3], d[n, 1::3] - g[1::3]
        e = (dx**2 + dy**2) / variances / ((a_g + a_d[n]) / 2 + np.spacing(1)) / 2
        ious[n] = np.sum(np.exp(-e)) / len(e)
    return ious


def test_oks_matches_the_official_formula_and_nms_keeps_distinct_poses():
    rng = np.random.default_rng(0)
    sigmas = sigmas_for(COCO)
    poses = rng.uniform(0, 300, (6, 17, 2))
    poses[1] = poses[0] + rng.normal(0, 1.0, (17, 2))  # near-duplicate of pose 0
    areas = rng.uniform(5e3, 4e4, 6)
    flat = np.concatenate([poses, np.ones((6, 17, 1))], axis=2).reshape(6, -1)
    np.testing.assert_allclose(oks_to_many(poses[0], poses[1:], areas[0], areas[1:], sigmas),
                               _mmpose_oks_iou(flat[0], flat[1:], areas[0], areas[1:], sigmas), rtol=1e-12)
    scores = np.array([0.5, 0.9, 0.4, 0.3, 0.2, 0.1])
    assert kept_by_oks_nms(poses, scores, areas, sigmas).tolist() == [1, 2, 3, 4, 5]  # 0 loses to its twin
    assert kept_by_oks_nms(poses, scores, areas, sigmas, threshold=1.0).tolist() == [1, 0, 2, 3, 4, 5]


def test_sets_without_sigmas_cannot_be_scored():
    with pytest.raises(ConfigError, match="wholebody keypoint set has no OKS sigmas"):
        sigmas_for(WHOLEBODY)
