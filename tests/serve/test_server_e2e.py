"""`vitpose_e2e` on a real Triton server started by `vitpose-serve MODEL --detector DET`: images in, the
detector's boxes and scores plus their poses out, batched across requests. The detector is the grid YOLO of
tests/detect (its persons are painted into the image, so the expected boxes are known)."""

from __future__ import annotations

import sys
import threading
from pathlib import Path

import numpy as np
import pytest
from servers import stats_after

from vitpose_trt.serve import E2E_MODEL, POSE_MODEL, PoseClient

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "detect"))
from detector_models import export_detector, paint_person  # noqa: E402

CLIENTS = 6


def _people() -> tuple[np.ndarray, np.ndarray]:
    """An RGB 256x320 frame with two painted persons, and their (2, 5) xyxy + score rows."""
    image = np.zeros((256, 320, 3), np.uint8)
    boxes = [paint_person(image, (2, 3), 0.9, (60, 120)), paint_person(image, (5, 7), 0.6, (40, 80))]
    return image, np.concatenate([np.array(boxes), [[230 / 255], [153 / 255]]], axis=1)


@pytest.fixture(scope="module")
def e2e_server(server_pool, served_onnx, tmp_path_factory):
    detector = export_detector("yolo", tmp_path_factory.mktemp("serve-detector") / "grid-yolo.onnx")
    server = server_pool.start_cli([str(served_onnx), "--detector", str(detector), "--color", "rgb",
                                    "--threads", "1", "--queue-delay-us", "20000"], (POSE_MODEL, E2E_MODEL))
    yield server
    server_pool.stop_current()


def test_e2e_returns_the_detectors_boxes_and_their_poses(e2e_server):
    image, detections = _people()
    with PoseClient(e2e_server.grpc_url) as client:
        found = client.detect_poses(image)
        posed = client.poses(image, found.boxes)
        nobody = client.detect_poses(np.zeros((256, 320, 3), np.uint8))
    np.testing.assert_allclose(found.boxes, detections[:, :4], atol=1e-2)
    np.testing.assert_allclose(found.box_scores, detections[:, 4], atol=1e-5)
    np.testing.assert_allclose(found.keypoints, posed.keypoints, atol=1e-4)  # same boxes, same poses
    assert len(nobody) == 0 and nobody.box_scores is None


def test_e2e_requests_are_batched(e2e_server):
    image, _ = _people()
    results, barrier = [None] * CLIENTS, threading.Barrier(CLIENTS)
    with PoseClient(e2e_server.grpc_url) as client:
        before = client.batch_stats(E2E_MODEL).requests

    def send(index):
        with PoseClient(e2e_server.grpc_url) as client:
            barrier.wait()
            results[index] = client.detect_poses(image)

    threads = [threading.Thread(target=send, args=(i,)) for i in range(CLIENTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for poses in results:
        np.testing.assert_array_equal(poses.keypoints, results[0].keypoints)
    with PoseClient(e2e_server.grpc_url) as client:
        stats = stats_after(client, before + CLIENTS, E2E_MODEL)
    assert stats.largest > 1, stats
