"""PoseEstimator's public stage timing (`on_stage`) and its batch API over several images."""

from __future__ import annotations

import numpy as np
import pytest
from astronaut_cases import ASTRONAUT_BOXES

import vitpose_trt as vt
from vitpose_trt.errors import ConfigError, InputError
from vitpose_trt.runtime.estimator import STAGES


def test_every_stage_is_reported_in_order_once_per_chunk(peaked_tiny_onnx, astronaut_bgr):
    calls = []
    estimator = vt.PoseEstimator(peaked_tiny_onnx, max_batch=4, on_stage=lambda name, s: calls.append((name, s)))
    estimator(astronaut_bgr, ASTRONAUT_BOXES)  # 6 persons, 2 per inference with flip test: 3 chunks
    names = [name for name, _ in calls]
    chunk = ["crop", "infer", "flip_merge", "decode"]
    assert names == ["validate", *chunk * 3, "map"]
    assert set(names) == set(STAGES) and all(seconds >= 0 for _, seconds in calls)


def test_stage_times_add_up_to_the_call(peaked_tiny_onnx, astronaut_bgr):
    import time

    totals = {}
    estimator = vt.PoseEstimator(peaked_tiny_onnx, on_stage=lambda n, s: totals.__setitem__(n, totals.get(n, 0) + s))
    start = time.perf_counter()
    estimator(astronaut_bgr, ASTRONAUT_BOXES)
    elapsed = time.perf_counter() - start
    assert 0 < sum(totals.values()) <= elapsed
    assert totals["infer"] == max(totals.values())  # the network dominates a frame


def test_timing_can_be_switched_on_and_off(peaked_tiny_onnx, astronaut_bgr):
    calls = []
    estimator = vt.PoseEstimator(peaked_tiny_onnx)
    estimator(astronaut_bgr, ASTRONAUT_BOXES[:1])
    estimator.on_stage = lambda name, seconds: calls.append(name)
    estimator(astronaut_bgr, ASTRONAUT_BOXES[:1])
    estimator.on_stage = None
    estimator(astronaut_bgr, ASTRONAUT_BOXES[:1])
    assert calls == list(STAGES)
    estimator.sync_stages = True  # nothing to wait for on the CPU
    assert estimator.sync_stages is False


def test_a_callback_must_be_callable(peaked_tiny_onnx):
    with pytest.raises(ConfigError, match="on_stage must be a callable"):
        vt.PoseEstimator(peaked_tiny_onnx, on_stage="print")


@pytest.mark.parametrize("max_batch", [1, 3, 16])
def test_a_batch_of_images_equals_one_call_per_image(peaked_tiny_onnx, astronaut_bgr, max_batch):
    estimator = vt.PoseEstimator(peaked_tiny_onnx, max_batch=max_batch)
    images = [astronaut_bgr, np.ascontiguousarray(astronaut_bgr[::2, ::2]), astronaut_bgr]
    boxes = [ASTRONAUT_BOXES[:4], ASTRONAUT_BOXES[:2] / 2, np.zeros((0, 4))]
    batched = estimator.batch(images, boxes)
    assert [len(p) for p in batched] == [4, 2, 0]
    for image, image_boxes, poses in zip(images, boxes, batched):
        alone = estimator(image, image_boxes)
        np.testing.assert_allclose(poses.keypoints, alone.keypoints, atol=1e-3)
        np.testing.assert_allclose(poses.scores, alone.scores, atol=1e-5)
        np.testing.assert_array_equal(poses.boxes, alone.boxes)


def test_crops_of_several_images_share_inferences(peaked_tiny_onnx, astronaut_bgr):
    infers = []
    estimator = vt.PoseEstimator(peaked_tiny_onnx, max_batch=8, on_stage=lambda n, s: infers.append(n == "infer"))
    estimator.batch([astronaut_bgr] * 4, [ASTRONAUT_BOXES[:1]] * 4)  # 4 persons x 2 flip copies = one batch of 8
    assert sum(infers) == 1


def test_batch_inputs_are_checked(peaked_tiny_onnx, astronaut_bgr):
    estimator = vt.PoseEstimator(peaked_tiny_onnx)
    with pytest.raises(InputError, match="2 images but 1 box arrays"):
        estimator.batch([astronaut_bgr, astronaut_bgr], [ASTRONAUT_BOXES])
    with pytest.raises(InputError, match="uint8"):
        estimator.batch([astronaut_bgr, astronaut_bgr.astype(np.float32)], [ASTRONAUT_BOXES, ASTRONAUT_BOXES])
    assert estimator.batch([], []) == []


def test_an_estimator_takes_a_backend_already_loaded(peaked_tiny_onnx, astronaut_bgr):
    from vitpose_trt.runtime.backends import open_backend

    loaded = open_backend(peaked_tiny_onnx, max_batch=4)
    estimator = vt.PoseEstimator(loaded)
    assert estimator.backend is loaded and estimator.backend.max_batch == 4
    np.testing.assert_array_equal(estimator(astronaut_bgr, ASTRONAUT_BOXES).keypoints,
                                  vt.PoseEstimator(peaked_tiny_onnx, max_batch=4)(astronaut_bgr, ASTRONAUT_BOXES).keypoints)
    with pytest.raises(ConfigError, match="already loaded on onnxruntime"):
        vt.PoseEstimator(loaded, backend="torch")
    with pytest.raises(ConfigError, match="set when a backend is opened"):
        vt.PoseEstimator(loaded, max_batch=2)
