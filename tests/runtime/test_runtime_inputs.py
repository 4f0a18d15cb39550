"""What PoseEstimator refuses at its boundary (typed errors), the CPU crop stage and Poses' COCO results."""

from __future__ import annotations

import json

import numpy as np
import pytest
from astronaut_cases import ASTRONAUT_BOXES

import vitpose_trt as vt
from vitpose_trt.errors import ConfigError, InputError
from vitpose_trt.geometry import warps_from_boxes
from vitpose_trt.preprocess import crops_from_boxes
from vitpose_trt.runtime import Poses
from vitpose_trt.runtime.cpu_crops import CpuCrops


@pytest.fixture(scope="module")
def estimator(peaked_tiny_onnx):
    return vt.PoseEstimator(peaked_tiny_onnx)


@pytest.mark.parametrize(
    "image, message",
    [
        (np.zeros((64, 64, 3), np.float32), "uint8"),
        (np.zeros((64, 64), np.uint8), r"shape \(H, W, 3\)"),
        (np.zeros((64, 64, 4), np.uint8), r"shape \(H, W, 3\)"),
        (np.zeros((0, 64, 3), np.uint8), "empty"),
        ([[[0, 0, 0]]], "numpy array"),
    ],
)
def test_bad_images_raise_input_error(estimator, image, message):
    with pytest.raises(InputError, match=message):
        estimator(image, ASTRONAUT_BOXES[:1])


@pytest.mark.parametrize(
    "boxes, message",
    [
        ([[0, 0, 10]], r"shape \(N, 4\)"),
        ([[0, 0, np.nan, 10]], "NaN"),
        ([[10, 10, 0, 20]], "negative width"),
        ([[5, 5, 5, 5]], "zero width and zero height"),
        ([[0, 0, 10, 10, np.inf]], "box scores"),
        ("boxes", "numeric"),
    ],
)
def test_bad_boxes_raise_input_error(estimator, astronaut_bgr, boxes, message):
    with pytest.raises(InputError, match=message):
        estimator(astronaut_bgr, boxes)


def test_bad_options_raise_config_error(peaked_tiny_onnx, estimator, astronaut_bgr):
    with pytest.raises(ConfigError, match="box_format"):
        estimator(astronaut_bgr, ASTRONAUT_BOXES, box_format="cxcywh")
    for options, message in [
        (dict(backend="tensorflow"), "unknown backend"),
        (dict(flip_test="yes"), "flip_test"),
        (dict(decode="softargmax"), "decode"),
        (dict(color="gray"), "color"),
        (dict(max_batch=0), "max_batch"),
        (dict(threads=-1), "threads"),
    ]:
        with pytest.raises(ConfigError, match=message):
            vt.PoseEstimator(peaked_tiny_onnx, **options)


@pytest.mark.parametrize("color", ["bgr", "rgb"])
def test_cpu_crop_stage_equals_the_reference_preprocessing(astronaut_bgr, color):
    stage = CpuCrops(color=color)
    crops = stage(astronaut_bgr, warps_from_boxes(ASTRONAUT_BOXES, "udp"), flip=True)
    reference = crops_from_boxes(astronaut_bgr, ASTRONAUT_BOXES, "udp", color)
    count = len(ASTRONAUT_BOXES)
    assert crops.shape == (2 * count, 3, 256, 192) and crops.dtype == np.float32
    np.testing.assert_array_equal(crops[:count], reference)
    np.testing.assert_array_equal(crops[count:], crops_from_boxes(astronaut_bgr, ASTRONAUT_BOXES, "udp", color,
                                                                  flip=True))
    out = np.empty((16, 3, 256, 192), np.float32)
    written = stage(astronaut_bgr, warps_from_boxes(ASTRONAUT_BOXES, "classic"), flip=False, out=out)
    assert np.shares_memory(written, out)
    np.testing.assert_array_equal(written, crops_from_boxes(astronaut_bgr, ASTRONAUT_BOXES, "classic", color))


def test_poses_to_coco_follows_the_official_rescoring():
    keypoints = np.arange(2 * 3 * 2, dtype=np.float32).reshape(2, 3, 2)
    scores = np.array([[0.9, 0.5, 0.1], [0.1, 0.15, 0.05]], np.float32)
    boxes = np.array([[10, 20, 110, 220], [0, 0, 5, 5]], np.float32)
    poses = Poses(keypoints, scores, boxes, box_scores=np.array([0.8, 1.0], np.float32))
    results = poses.to_coco(image_id=7)
    json.dumps(results)  # plain Python numbers only
    first = results[0]
    assert first["image_id"] == 7 and first["category_id"] == 1
    assert first["keypoints"] == pytest.approx([0, 1, 0.9, 2, 3, 0.5, 4, 5, 0.1])
    # Mean of the scores above 0.2 (0.9, 0.5) times the box score; none visible -> 0.
    assert first["score"] == pytest.approx(0.7 * 0.8)
    assert results[1]["score"] == 0.0
    assert first["bbox"] == pytest.approx([10, 20, 100, 200])
