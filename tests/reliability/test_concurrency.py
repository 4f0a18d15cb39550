"""One `PoseEstimator` shared by several threads gives exactly the poses sequential calls give.

Each thread runs its own images (different sizes) and box counts, so a crop buffer shared between
threads would hand one thread another's crops; the comparison is exact.
"""

from __future__ import annotations

import threading

import numpy as np
import pytest

import vitpose_trt as vt

THREADS = 4
ROUNDS = 6


def _workloads(astronaut_bgr) -> list[list[tuple[np.ndarray, np.ndarray]]]:
    """Per thread: a list of (image, boxes) calls, every thread with different images and box counts."""
    from skimage import data

    photos = [astronaut_bgr, np.ascontiguousarray(data.coffee()[:, :, ::-1]),
              np.ascontiguousarray(data.chelsea()[:, :, ::-1])]
    rng = np.random.default_rng(0)
    workloads = []
    for thread in range(THREADS):
        calls = []
        for call in range(3):
            photo = photos[(thread + call) % len(photos)]
            height, width = photo.shape[:2]
            top, left = rng.integers(0, height // 4), rng.integers(0, width // 4)
            image = np.ascontiguousarray(photo[top:, left:])
            count = 1 + (thread + call) % 5
            corner = rng.uniform(0, [image.shape[1] * 0.6, image.shape[0] * 0.6], size=(count, 2))
            size = rng.uniform(30, 200, size=(count, 2))
            calls.append((image, np.concatenate([corner, corner + size], axis=1)))
        workloads.append(calls)
    return workloads


def _run_in_threads(estimator, workloads):
    results = [[None] * len(calls) for calls in workloads]
    errors = []
    start = threading.Barrier(len(workloads))

    def work(index):
        try:
            start.wait()
            for _ in range(ROUNDS):
                for call, (image, boxes) in enumerate(workloads[index]):
                    poses = estimator(image, boxes)
                    if results[index][call] is not None:
                        np.testing.assert_array_equal(poses.keypoints, results[index][call].keypoints)
                    results[index][call] = poses
        except BaseException as exc:  # re-raised in the main thread below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(workloads))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]
    return results


@pytest.mark.parametrize("backend", ["onnxruntime", "torch"])
def test_threads_get_the_same_poses_as_sequential_calls(backend, tiny_onnx_path, tiny_model, astronaut_bgr):
    source = tiny_onnx_path if backend == "onnxruntime" else tiny_model
    estimator = vt.PoseEstimator(source, backend=backend, max_batch=4, threads=1)
    workloads = _workloads(astronaut_bgr)
    sequential = [[estimator(image, boxes) for image, boxes in calls] for calls in workloads]
    threaded = _run_in_threads(estimator, workloads)
    for expected_calls, got_calls in zip(sequential, threaded):
        for expected, got in zip(expected_calls, got_calls):
            np.testing.assert_array_equal(got.keypoints, expected.keypoints)
            np.testing.assert_array_equal(got.scores, expected.scores)
            np.testing.assert_array_equal(got.boxes, expected.boxes)
