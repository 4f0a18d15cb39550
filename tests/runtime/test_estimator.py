"""PoseEstimator end to end on the real astronaut image: backends agree, chunking, flip test, empty input."""

from __future__ import annotations

import numpy as np
import pytest
from astronaut_cases import ASTRONAUT_BOXES

import vitpose_trt as vt
from vitpose_trt.keypoints import KEYPOINT_SETS

COCO_FLIP_INDEX = np.array(KEYPOINT_SETS["coco"].flip_index)


@pytest.fixture(scope="module")
def torch_estimator(peaked_tiny):
    return vt.PoseEstimator(peaked_tiny, backend="torch")


@pytest.fixture(scope="module")
def onnx_estimator(peaked_tiny_onnx):
    return vt.PoseEstimator(peaked_tiny_onnx)


def test_torch_and_onnxruntime_agree(torch_estimator, onnx_estimator, astronaut_bgr):
    assert onnx_estimator.backend.name == "onnxruntime" and torch_estimator.backend.name == "torch"
    by_torch = torch_estimator(astronaut_bgr, ASTRONAUT_BOXES)
    by_onnx = onnx_estimator(astronaut_bgr, ASTRONAUT_BOXES)
    assert by_onnx.keypoints.shape == (len(ASTRONAUT_BOXES), 17, 2) and by_onnx.keypoints.dtype == np.float32
    assert by_onnx.scores.shape == (len(ASTRONAUT_BOXES), 17) and by_onnx.scores.dtype == np.float32
    # Peaked heatmaps: confident keypoints inside the image region the boxes cover.
    assert by_onnx.scores.min() > 0.3
    assert np.abs(by_torch.keypoints - by_onnx.keypoints).max() < 1e-2
    assert np.abs(by_torch.scores - by_onnx.scores).max() < 1e-4


def test_official_settings_by_default(onnx_estimator):
    coco = KEYPOINT_SETS["coco"]
    assert (onnx_estimator.warp, onnx_estimator.flip_test, onnx_estimator.decode) == (
        coco.warp, coco.flip_test, coco.decode)
    assert onnx_estimator.metadata.model == "vitpose-tiny"


@pytest.mark.parametrize("max_batch", [1, 2, 5])
def test_chunks_give_the_same_poses_as_one_batch(peaked_tiny_onnx, onnx_estimator, astronaut_bgr, max_batch):
    whole = onnx_estimator(astronaut_bgr, ASTRONAUT_BOXES)
    chunked_estimator = vt.PoseEstimator(peaked_tiny_onnx, max_batch=max_batch)
    # Flip test doubles the crops: max_batch 1 runs the two copies of one person separately.
    assert chunked_estimator.persons_per_inference == max(1, max_batch // 2)
    chunked = chunked_estimator(astronaut_bgr, ASTRONAUT_BOXES)
    np.testing.assert_allclose(chunked.keypoints, whole.keypoints, atol=1e-3)
    np.testing.assert_allclose(chunked.scores, whole.scores, atol=1e-5)


@pytest.mark.parametrize("no_boxes", [[], np.zeros((0, 4)), np.zeros((0, 5))])
def test_no_boxes_gives_empty_poses(onnx_estimator, astronaut_bgr, no_boxes):
    poses = onnx_estimator(astronaut_bgr, no_boxes)
    assert len(poses) == 0
    assert poses.keypoints.shape == (0, 17, 2) and poses.scores.shape == (0, 17) and poses.boxes.shape == (0, 4)
    assert poses.to_coco(image_id=1) == []


def _mirrored_keypoints(keypoints: np.ndarray, width: int) -> np.ndarray:
    """Keypoints of the horizontally mirrored image: x -> width - 1 - x, left/right swapped."""
    mirrored = keypoints[:, COCO_FLIP_INDEX].copy()
    mirrored[..., 0] = width - 1 - mirrored[..., 0]
    return mirrored


def _mirrored_boxes(boxes: np.ndarray, width: int) -> np.ndarray:
    mirrored = boxes.copy()
    mirrored[:, [0, 2]] = width - 1 - boxes[:, [2, 0]]
    return mirrored


def test_flip_test_on_a_symmetric_input_is_symmetric(onnx_estimator, peaked_tiny_onnx, astronaut_bgr):
    half = astronaut_bgr[:, :256]
    symmetric = np.ascontiguousarray(np.concatenate([half, half[:, ::-1]], axis=1))
    width = symmetric.shape[1]
    # Boxes symmetric about the image's mirror axis x = (width - 1) / 2.
    boxes = np.array([[105.5, 40.0, 405.5, 480.0], [175.5, 20.0, 335.5, 220.0]])
    assert np.array_equal(_mirrored_boxes(boxes, width), boxes)
    poses = onnx_estimator(symmetric, boxes)
    # Left and right keypoints are each other's mirror images; the scores of a pair are equal. Not to the
    # last bit: cv2's 1/32-px fixed-point sampling makes a few crop pixels of the two halves differ by 1.
    np.testing.assert_allclose(poses.keypoints, _mirrored_keypoints(poses.keypoints, width), atol=0.25)
    np.testing.assert_allclose(poses.scores, poses.scores[:, COCO_FLIP_INDEX], atol=1e-3)
    # Without flip test the (asymmetric) model does not give symmetric poses: the check above has teeth.
    plain = vt.PoseEstimator(peaked_tiny_onnx, flip_test=False)(symmetric, boxes)
    assert np.abs(plain.keypoints - _mirrored_keypoints(plain.keypoints, width)).max() > 5.0


def test_flip_test_commutes_with_mirroring_the_image(onnx_estimator, astronaut_bgr):
    width = astronaut_bgr.shape[1]
    mirrored_image = np.ascontiguousarray(astronaut_bgr[:, ::-1])
    poses = onnx_estimator(astronaut_bgr, ASTRONAUT_BOXES)
    of_mirrored = onnx_estimator(mirrored_image, _mirrored_boxes(ASTRONAUT_BOXES, width))
    error = np.abs(of_mirrored.keypoints - _mirrored_keypoints(poses.keypoints, width))
    assert np.median(error) < 0.05 and error.max() < 0.5
    np.testing.assert_allclose(of_mirrored.scores, poses.scores[:, COCO_FLIP_INDEX], atol=2e-3)


def test_xywh_boxes_and_rgb_images(onnx_estimator, peaked_tiny_onnx, astronaut_bgr):
    reference = onnx_estimator(astronaut_bgr, ASTRONAUT_BOXES)
    xywh = ASTRONAUT_BOXES.copy()
    xywh[:, 2:] -= xywh[:, :2]
    as_xywh = onnx_estimator(astronaut_bgr, xywh, box_format="xywh")
    np.testing.assert_allclose(as_xywh.keypoints, reference.keypoints, atol=1e-4)
    np.testing.assert_allclose(as_xywh.boxes, reference.boxes, atol=1e-4)
    rgb_estimator = vt.PoseEstimator(peaked_tiny_onnx, color="rgb")
    as_rgb = rgb_estimator(np.ascontiguousarray(astronaut_bgr[:, :, ::-1]), ASTRONAUT_BOXES)
    np.testing.assert_array_equal(as_rgb.keypoints, reference.keypoints)
    # The same BGR frame read as RGB is a different input: the channel order reaches the network.
    swapped = rgb_estimator(astronaut_bgr, ASTRONAUT_BOXES)
    assert np.abs(swapped.keypoints - reference.keypoints).max() > 1e-2


def test_non_contiguous_image_view_is_accepted(onnx_estimator, astronaut_bgr):
    view = np.ascontiguousarray(np.concatenate([astronaut_bgr, astronaut_bgr], axis=1))[:, ::2]
    assert not view.flags.c_contiguous
    poses = onnx_estimator(view, ASTRONAUT_BOXES[:2])
    np.testing.assert_array_equal(poses.keypoints, onnx_estimator(np.ascontiguousarray(view),
                                                                  ASTRONAUT_BOXES[:2]).keypoints)


def test_box_scores_reach_the_coco_results(onnx_estimator, astronaut_bgr):
    with_scores = np.concatenate([ASTRONAUT_BOXES[:3], [[0.9], [0.5], [1.0]]], axis=1)
    poses = onnx_estimator(astronaut_bgr, with_scores)
    np.testing.assert_allclose(poses.box_scores, [0.9, 0.5, 1.0])
    results = poses.to_coco(image_id=42)
    plain = onnx_estimator(astronaut_bgr, ASTRONAUT_BOXES[:3]).to_coco(image_id=42)
    for scored, unscored, box_score in zip(results, plain, [0.9, 0.5, 1.0]):
        assert scored["score"] == pytest.approx(unscored["score"] * box_score, rel=1e-6)
        assert scored["keypoints"] == unscored["keypoints"]


def test_the_cpu_int8_file_runs_with_the_fp32_files_settings(onnx_estimator, peaked_tiny_onnx, astronaut_bgr,
                                                              tmp_path):
    """vitpose-export --target onnxruntime-cpu's file (dynamic int8 MatMuls) through PoseEstimator: same
    keypoint set and pipeline from its metadata, same poses as the fp32 file. (The peaked model's attention
    and MLP outputs are zero weights, exact in int8, so the poses agree; int8 accuracy on random weights is
    tests/export/test_export_cpu_int8.py's.)"""
    from vitpose_trt.export.cpu_quantization import cpu_int8_onnx_from_fp32

    int8 = vt.PoseEstimator(cpu_int8_onnx_from_fp32(peaked_tiny_onnx, tmp_path / "peaked-tiny-int8-cpu.onnx"))
    assert int8.backend.name == "onnxruntime" and int8.backend.metadata.precision == "int8"
    assert int8.keypoints.name == onnx_estimator.keypoints.name and int8.flip_test == onnx_estimator.flip_test
    by_fp32, by_int8 = onnx_estimator(astronaut_bgr, ASTRONAUT_BOXES), int8(astronaut_bgr, ASTRONAUT_BOXES)
    assert np.abs(by_fp32.keypoints - by_int8.keypoints).max() < 1e-3
    assert np.abs(by_fp32.scores - by_int8.scores).max() < 1e-4
