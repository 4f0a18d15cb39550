"""Every public boundary refuses bad input with a typed error, and accepts the unusual-but-valid.

Bad images and boxes raise `InputError` (a `VitPoseError` and a `ValueError`); bad options raise
`ConfigError` (likewise). The same checks guard `PoseEstimator.__call__`, `geometry.boxes_xyxy` and
`preprocess.crops_from_boxes`. Degenerate-but-valid boxes behave as documented in `vitpose_trt.geometry`.
"""

from __future__ import annotations

import numpy as np
import pytest

import vitpose_trt as vt
from vitpose_trt.errors import ConfigError, InputError, VitPoseError
from vitpose_trt.geometry import MAX_COORDINATE, boxes_xyxy
from vitpose_trt.preprocess import crops_from_boxes
from vitpose_trt.specs import PIXEL_STD_RGB

BOX = [[130.0, 20.0, 430.0, 510.0]]

BAD_IMAGES = {
    "float32": (np.zeros((64, 64, 3), np.float32), "uint8"),
    "bool": (np.zeros((64, 64, 3), bool), "uint8"),
    "int16": (np.zeros((64, 64, 3), np.int16), "uint8"),
    "grayscale": (np.zeros((64, 64), np.uint8), r"\(H, W, 3\)"),
    "rgba": (np.zeros((64, 64, 4), np.uint8), r"\(H, W, 3\)"),
    "channels first": (np.zeros((3, 64, 64), np.uint8), r"\(H, W, 3\)"),
    "batch of one": (np.zeros((1, 64, 64, 3), np.uint8), r"\(H, W, 3\)"),
    "scalar": (np.uint8(7), "numpy array"),
    "no rows": (np.zeros((0, 64, 3), np.uint8), "empty"),
    "no columns": (np.zeros((64, 0, 3), np.uint8), "empty"),
    "nested list": ([[[0, 0, 0]]], "numpy array"),
    "memoryview": (memoryview(np.zeros((8, 8, 3), np.uint8)), "numpy array"),
    "None": (None, "numpy array"),
}

BAD_BOXES = {
    "one flat box": ([0, 0, 10, 10], r"shape \(N, 4\)"),
    "three columns": ([[0, 0, 10]], r"shape \(N, 4\)"),
    "three dimensions": (np.zeros((1, 1, 4)), r"shape \(N, 4\)"),
    "boxes without coordinates": (np.zeros((4, 0)), r"shape \(N, 4\), got \(4, 0\)$"),
    "one empty box": ([[]], r"shape \(N, 4\), got \(1, 0\)$"),
    "no boxes of three columns": (np.zeros((0, 3)), r"shape \(N, 4\), got \(0, 3\)$"),
    "None": (None, r"shape \(N, 4\)"),
    "ragged list": ([[0, 0, 10, 10], [1, 2]], "numeric"),
    "strings": ([["a", 0, 5, 5]], "numeric"),
    "numeric strings": ([["1", "2", "3", "4"]], "numeric"),
    "complex": (np.array([[1j, 0, 10, 10]]), "numeric"),
    "booleans": (np.ones((1, 4), bool), "numeric"),
    "NaN": ([[0, 0, np.nan, 10]], "NaN"),
    "None inside": ([[None, 0, 10, 10]], "NaN"),
    "infinity": ([[0, 0, np.inf, 10]], "infinite"),
    "negative width": ([[10, 10, 0, 20]], "negative width"),
    "negative height": ([[0, 20, 10, 10]], "negative width or height"),
    "a point": ([[5, 5, 5, 5]], "zero width and zero height"),
    "far away": ([[1e12, 1e12, 1e12 + 10, 1e12 + 20]], "too large"),
    "astronomically large": ([[0, 0, 1e300, 1e300]], "too large"),
    "score not finite": ([[0, 0, 10, 10, np.nan]], "box scores"),
}


@pytest.fixture(scope="module")
def estimator(tiny_onnx_path):
    return vt.PoseEstimator(tiny_onnx_path, max_batch=4)


def _assert_input_error(info) -> None:
    assert isinstance(info.value, InputError) and isinstance(info.value, ValueError)
    assert isinstance(info.value, VitPoseError)


@pytest.mark.parametrize("name", BAD_IMAGES)
def test_bad_images_are_refused_at_every_boundary(estimator, name):
    image, message = BAD_IMAGES[name]
    with pytest.raises(InputError, match=message) as info:
        estimator(image, BOX)
    _assert_input_error(info)
    with pytest.raises(InputError, match=message):
        crops_from_boxes(image, BOX)


@pytest.mark.parametrize("name", BAD_BOXES)
def test_bad_boxes_are_refused_at_every_boundary(estimator, astronaut_bgr, name):
    boxes, message = BAD_BOXES[name]
    with pytest.raises(InputError, match=message) as info:
        estimator(astronaut_bgr, boxes)
    _assert_input_error(info)
    if name != "score not finite":  # the score column is the estimator's own addition
        with pytest.raises(InputError, match=message):
            boxes_xyxy(boxes)
        with pytest.raises(InputError, match=message):
            crops_from_boxes(astronaut_bgr, boxes)


@pytest.mark.parametrize("boxes", [[], np.zeros((0, 4)), np.zeros((0, 5)), (), np.zeros(0, np.int64)], ids=repr)
def test_no_boxes_give_empty_poses(estimator, astronaut_bgr, boxes):
    poses = estimator(astronaut_bgr, boxes)
    assert len(poses) == 0 and poses.keypoints.shape == (0, 17, 2) and poses.scores.shape == (0, 17)
    assert poses.to_coco(image_id=1) == []


def test_batch_takes_any_iterable_and_refuses_what_is_not_one(estimator, astronaut_bgr):
    boxes = np.array([[130, 20, 430, 510]], np.float64)
    from_lists = estimator.batch([astronaut_bgr, astronaut_bgr], [boxes, boxes[:0]])
    from_generators = estimator.batch((image for image in [astronaut_bgr] * 2), iter([boxes, boxes[:0]]))
    assert [len(p) for p in from_generators] == [1, 0]
    np.testing.assert_array_equal(from_generators[0].keypoints, from_lists[0].keypoints)
    for images, message in ((None, "images must be a sequence"), ("photo.jpg", "images must be a sequence, got a str")):
        with pytest.raises(InputError, match=message):
            estimator.batch(images, [boxes])


def test_plain_lists_tuples_ints_and_float16_mean_the_same_boxes(estimator, astronaut_bgr):
    reference = estimator(astronaut_bgr, np.array([[130, 20, 430, 510], [170, 30, 290, 180]], np.float64))
    for boxes in ([[130, 20, 430, 510], [170, 30, 290, 180]], ((130, 20, 430, 510), (170, 30, 290, 180)),
                  np.array([[130, 20, 430, 510], [170, 30, 290, 180]], np.int32),
                  np.array([[130, 20, 430, 510], [170, 30, 290, 180]], np.float16)):
        np.testing.assert_array_equal(estimator(astronaut_bgr, boxes).keypoints, reference.keypoints)


def test_non_contiguous_and_read_only_images_give_the_contiguous_result(estimator, astronaut_bgr):
    reference = estimator(astronaut_bgr, BOX)
    padded = np.zeros((512, 1024, 3), np.uint8)
    padded[:, ::2] = astronaut_bgr
    read_only = astronaut_bgr.copy()
    read_only.flags.writeable = False
    rgb_view = np.ascontiguousarray(astronaut_bgr[:, :, ::-1])[:, :, ::-1]  # BGR again, negative channel stride
    for image in (padded[:, ::2], read_only, rgb_view):
        np.testing.assert_array_equal(estimator(image, BOX).keypoints, reference.keypoints)
    mirrored = np.ascontiguousarray(astronaut_bgr[:, ::-1])[:, ::-1]  # negative column stride
    np.testing.assert_array_equal(estimator(mirrored, BOX).keypoints, reference.keypoints)


@pytest.mark.parametrize("shape, offset", [((512, 40_000, 3), (39_000, 0)), ((36_000, 512, 3), (0, 35_400))])
def test_very_large_images_crop_like_their_small_copies(astronaut_bgr, shape, offset):
    """Images past 32767 px (OpenCV's short-coordinate range) still crop correctly at their far end."""
    canvas = np.zeros(shape, np.uint8)
    dx, dy = offset
    canvas[dy : dy + 512, dx : dx + 512] = astronaut_bgr
    moved = crops_from_boxes(canvas, np.array(BOX) + [dx, dy, dx, dy])
    levels = np.abs(moved - crops_from_boxes(astronaut_bgr, BOX)) * np.float32(PIXEL_STD_RGB)[:, None, None]
    assert levels.max() <= 1.01 and levels.mean() < 0.05  # OpenCV's 1/32-px fixed point may round one level


def test_degenerate_boxes_behave_as_documented(estimator, astronaut_bgr):
    line = estimator(astronaut_bgr, [[200, 50, 200, 400]])  # zero width: a line, grown to the aspect ratio
    np.testing.assert_allclose(line.boxes, [[200, 50, 200, 400]])
    tiny = estimator(astronaut_bgr, [[100, 100, 100.001, 100.002]])
    outside = estimator(astronaut_bgr, [[-5000, -5000, -4000, -3000], [600, 600, 900, 1000]])
    edge = estimator(astronaut_bgr, [[-1, -1, MAX_COORDINATE, MAX_COORDINATE]])
    for poses in (line, tiny, outside, edge):
        assert np.isfinite(poses.keypoints).all() and np.isfinite(poses.scores).all()
    # Keypoints of a box outside the image lie in or around that box, not clamped into the image.
    assert (outside.keypoints[0] < -2000).all()
    # A box wholly outside sees only the black border: its crops equal a black image's.
    black = np.zeros_like(astronaut_bgr)
    np.testing.assert_array_equal(crops_from_boxes(astronaut_bgr, [[-5000, -5000, -4000, -3000]]),
                                  crops_from_boxes(black, [[-5000, -5000, -4000, -3000]]))


BAD_OPTIONS = {
    "backend": (dict(backend="tensorflow"), "unknown backend"),
    "backend list": (dict(backend=["torch"]), "unknown backend"),
    "backend None": (dict(backend=None), "unknown backend"),
    "flip_test": (dict(flip_test="yes"), "flip_test"),
    "flip_test int": (dict(flip_test=1), "flip_test"),
    "decode": (dict(decode="softargmax"), "decode"),
    "decode list": (dict(decode=["dark"]), "decode"),
    "color": (dict(color="gray"), "color"),
    "color None": (dict(color=None), "color"),
    "max_batch 0": (dict(max_batch=0), "max_batch"),
    "max_batch bool": (dict(max_batch=True), "max_batch"),
    "max_batch float": (dict(max_batch=2.0), "max_batch"),
    "threads": (dict(threads=-1), "threads"),
    "threads float": (dict(threads=1.5), "threads"),
}


@pytest.mark.parametrize("name", BAD_OPTIONS)
def test_bad_options_raise_config_error(tiny_onnx_path, name):
    options, message = BAD_OPTIONS[name]
    with pytest.raises(ConfigError, match=message) as info:
        vt.PoseEstimator(tiny_onnx_path, **options)
    assert isinstance(info.value, ValueError) and isinstance(info.value, VitPoseError)


@pytest.mark.parametrize("source, error", [(None, ConfigError), (5, ConfigError), (b"x.onnx", ConfigError),
                                           ("vitpose-zzz", ConfigError)])
def test_bad_model_sources_raise_typed_errors(source, error):
    with pytest.raises(error):
        vt.PoseEstimator(source)


@pytest.mark.parametrize("box_format", ["cxcywh", None, ["xyxy"], {"xyxy": 1}])
def test_bad_box_format_is_a_config_error(estimator, astronaut_bgr, box_format):
    with pytest.raises(ConfigError, match="box_format"):
        estimator(astronaut_bgr, BOX, box_format=box_format)


def test_non_finite_heatmaps_raise_instead_of_returning_garbage(tiny_model, astronaut_bgr):
    """A numerically broken model (here: one heatmap channel's bias is NaN) is reported, not decoded."""
    import copy

    import torch

    broken = copy.deepcopy(tiny_model)
    with torch.no_grad():
        broken.keypoint_head.final_layer.bias[5] = float("nan")
    estimator = vt.PoseEstimator(broken, backend="torch")
    with pytest.raises(vt.InferenceError, match=r"NaN or infinite heatmaps for boxes \[0, 1\]") as info:
        estimator(astronaut_bgr, [[130, 20, 430, 510], [170, 30, 290, 180]])
    assert not isinstance(info.value, vt.UserError)
    assert len(estimator(astronaut_bgr, [])) == 0  # no boxes, nothing to run
