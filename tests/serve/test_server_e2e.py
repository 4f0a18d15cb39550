"""`vitpose_e2e` on a real Triton server, with a real stand-in detector (stand_in_pipeline.py) until
vitpose_trt.detect lands: images in, the detector's boxes and scores plus their poses out, batched."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest
from servers import stats_after
from stand_in_pipeline import bright_region_boxes, people_image

from vitpose_trt.serve import E2E_MODEL, POSE_MODEL, PoseClient

STAND_IN_SERVER = Path(__file__).with_name("stand_in_server.py")
CLIENTS = 6


@pytest.fixture(scope="module")
def e2e_server(server_pool, served_onnx):
    server = server_pool.start_script([str(STAND_IN_SERVER), str(served_onnx)], (POSE_MODEL, E2E_MODEL))
    yield server
    server_pool.stop_current()


def test_e2e_returns_the_detectors_boxes_and_their_poses(e2e_server):
    image = people_image()
    detections = bright_region_boxes(image)
    with PoseClient(e2e_server.grpc_url) as client:
        found = client.detect_poses(image)
        posed = client.poses(image, detections[:, :4])
        nobody = client.detect_poses(np.zeros((64, 64, 3), np.uint8))
    np.testing.assert_allclose(found.boxes, detections[:, :4])
    np.testing.assert_allclose(found.box_scores, detections[:, 4], rtol=1e-6)
    np.testing.assert_allclose(found.keypoints, posed.keypoints, atol=1e-4)  # same boxes, same poses
    assert len(nobody) == 0 and nobody.box_scores is None


def test_e2e_requests_are_batched(e2e_server):
    image = people_image()
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
