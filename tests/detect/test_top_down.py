"""TopDown: image in, persons and their poses out, in one call, with a detector of each layout."""

from __future__ import annotations

import numpy as np
import pytest
from detector_models import paint_person

import vitpose_trt as vt
from vitpose_trt.errors import ConfigError


@pytest.fixture(scope="module")
def tiny_pose_onnx(tmp_path_factory, tiny_model):
    from vitpose_trt.export import export_onnx

    return export_onnx(tiny_model, tmp_path_factory.mktemp("tiny-pose") / "vitpose-tiny.onnx")


def _scene():
    image = np.zeros((256, 320, 3), np.uint8)
    boxes = [paint_person(image, (2, 3), 0.9, (60, 120)), paint_person(image, (5, 7), 0.6, (40, 80))]
    return image, np.array(boxes, np.float32)


def test_image_to_poses_in_one_call(grid_onnx, layout, tiny_pose_onnx):
    image, boxes = _scene()
    detector = vt.PersonDetector(grid_onnx(layout), color="rgb")
    estimator = vt.PoseEstimator(tiny_pose_onnx, color="rgb")
    poses = vt.TopDown(detector, estimator)(image)
    np.testing.assert_allclose(poses.boxes, boxes, atol=1e-3)
    np.testing.assert_allclose(poses.box_scores, [230 / 255, 153 / 255], atol=1e-5)
    direct = estimator(image, np.concatenate([poses.boxes, poses.box_scores[:, None]], axis=1))
    np.testing.assert_array_equal(poses.keypoints, direct.keypoints)
    assert poses.to_coco(1)[0]["score"] == pytest.approx(float(direct.pose_scores()[0]))


def test_a_batch_of_frames_and_an_empty_one(grid_onnx, tiny_pose_onnx):
    image, _ = _scene()
    pipeline = vt.TopDown(vt.PersonDetector(grid_onnx("yolo"), color="rgb"),
                          vt.PoseEstimator(tiny_pose_onnx, color="rgb"))
    poses = pipeline.batch([image, np.zeros_like(image), image])
    assert [len(p) for p in poses] == [2, 0, 2] and poses[1].keypoints.shape == (0, 17, 2)
    np.testing.assert_array_equal(poses[0].keypoints, pipeline(image).keypoints)


def test_the_models_are_checked_in_their_order(grid_onnx, tiny_pose_onnx):
    detector, estimator = vt.PersonDetector(grid_onnx("yolo")), vt.PoseEstimator(tiny_pose_onnx)
    with pytest.raises(ConfigError, match="the estimator must be a vt.PoseEstimator, got PersonDetector"):
        vt.TopDown(estimator, detector)
    with pytest.raises(ConfigError, match="the detector must be a vt.PersonDetector, got PoseEstimator"):
        vt.TopDown(estimator, estimator)
    with pytest.raises(ConfigError, match="the detector must be a vt.PersonDetector, got None"):
        vt.TopDown(None, estimator)


def test_both_models_must_take_the_same_color_order(grid_onnx, tiny_pose_onnx):
    with pytest.raises(ConfigError, match="same color"):
        vt.TopDown(vt.PersonDetector(grid_onnx("yolo"), color="rgb"), vt.PoseEstimator(tiny_pose_onnx))
