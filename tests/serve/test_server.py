"""vitpose-serve on a real Triton server (PyTriton's bundled tritonserver), on loopback.

The server starts, a tritonclient client gets the same poses as an in-process PoseEstimator (raw, PNG and
JPEG images, gRPC and HTTP), concurrent requests are batched (Triton's statistics show batches > 1 and
its metrics count them), health and metrics endpoints answer, and SIGTERM stops it with exit code 0.

"The same poses": equal to float rounding to the estimator run in the serving environment (where the
server runs), and within CROSS_ENVIRONMENT_PIXELS of the estimator in this test environment, whose
OpenCV build (numpy 2) warps crops differently in the last bits.
"""

from __future__ import annotations

import signal
import threading
import urllib.request

import numpy as np
import pytest
from servers import LOOPBACK, port_open, reference_poses

from vitpose_trt.runtime import PoseEstimator
from vitpose_trt.serve import PoseClient

ASTRONAUT_BOXES = np.array([[140, 20, 360, 500], [60, 100, 240, 480], [300, 200, 500, 510]], np.float32)
#: Keypoints from the server and in-process differ by float rounding only (same model, same crops).
SAME_PIXELS = 1e-3
#: Score tolerance per pixel of keypoint tolerance (scores are heatmap maxima, in 0..1).
SCORES_PER_PIXEL = 0.01
#: The test environment's OpenCV (numpy 2) and the serving environment's (numpy 1.x) warp crops a little
#: differently; measured 0.015 px on these cases.
CROSS_ENVIRONMENT_PIXELS = 0.1
#: Boxes shifted by this many px per concurrent client, so every answer is told apart.
SHIFT_PX = 5
CONCURRENT_CLIENTS = 8


def _many_boxes() -> np.ndarray:
    rng = np.random.default_rng(3)
    corners = rng.uniform(0, 400, (40, 2))
    return np.concatenate([corners, corners + rng.uniform(20, 100, (40, 2))], axis=1).astype(np.float32)


def _shifted_boxes() -> list[np.ndarray]:
    return [ASTRONAUT_BOXES[:1] + np.float32(SHIFT_PX * i) for i in range(CONCURRENT_CLIENTS)]


def _decoded_jpeg(data: bytes) -> np.ndarray:
    import cv2

    return cv2.cvtColor(cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)


@pytest.fixture(scope="module")
def estimator(served_onnx):
    """The estimator in this (test) environment."""
    return PoseEstimator(served_onnx, color="rgb", threads=1)


@pytest.fixture(scope="module")
def references(served_onnx, astronaut_rgb, tmp_path_factory):
    """In-process poses in the serving environment: {case name: [{"keypoints", "scores"}, ...]}."""
    cases = {"astronaut": [(astronaut_rgb, ASTRONAUT_BOXES)], "many": [(astronaut_rgb, _many_boxes())],
             "shifted": [(astronaut_rgb, boxes) for boxes in _shifted_boxes()]}
    flat = [case for group in cases.values() for case in group]
    poses = reference_poses(served_onnx, flat, tmp_path_factory.mktemp("reference"))
    result, start = {}, 0
    for name, group in cases.items():
        result[name], start = poses[start : start + len(group)], start + len(group)
    return result


def _encoded(image_rgb: np.ndarray, suffix: str) -> bytes:
    import cv2

    ok, data = cv2.imencode(suffix, np.ascontiguousarray(image_rgb[:, :, ::-1]))
    assert ok
    return data.tobytes()


def assert_same_poses(served, reference: dict, boxes=None, tolerance=SAME_PIXELS):
    """`served` Poses equal `reference` ({"keypoints", "scores"}) within `tolerance` px; boxes as sent."""
    assert served.keypoints.shape == reference["keypoints"].shape
    np.testing.assert_allclose(served.keypoints, reference["keypoints"], atol=tolerance)
    np.testing.assert_allclose(served.scores, reference["scores"], atol=tolerance * SCORES_PER_PIXEL)
    if boxes is not None:
        np.testing.assert_allclose(served.boxes, boxes, atol=1e-4)


def _as_reference(poses) -> dict:
    return {"keypoints": poses.keypoints, "scores": poses.scores}


@pytest.mark.parametrize("protocol", ["grpc", "http"])
def test_served_poses_equal_in_process_poses(server, references, estimator, astronaut_rgb, protocol):
    url = server.grpc_url if protocol == "grpc" else server.http_url
    reference = references["astronaut"][0]
    with PoseClient(url, protocol=protocol) as client:
        served = client.poses(astronaut_rgb, ASTRONAUT_BOXES)
        assert_same_poses(served, reference, ASTRONAUT_BOXES)
        assert served.box_scores is None
        assert_same_poses(client.poses(_encoded(astronaut_rgb, ".png"), ASTRONAUT_BOXES), reference)
    local = _as_reference(estimator(astronaut_rgb, ASTRONAUT_BOXES))
    assert_same_poses(served, local, tolerance=CROSS_ENVIRONMENT_PIXELS)
    # A 5th column of detector scores stays with the poses, as in-process (the server takes boxes only).
    with_scores = np.concatenate([ASTRONAUT_BOXES, [[0.9], [0.4], [0.7]]], axis=1)
    with PoseClient(url, protocol=protocol) as client:
        scored = client.poses(astronaut_rgb, with_scores)
    np.testing.assert_array_equal(scored.box_scores, estimator(astronaut_rgb, with_scores).box_scores)
    assert scored.to_coco(1)[0]["score"] == pytest.approx(estimator(astronaut_rgb, with_scores).to_coco(1)[0]["score"],
                                                          abs=1e-3)


def test_what_the_client_cannot_send_or_reach_is_a_clear_error(server, astronaut_rgb):
    from vitpose_trt.errors import InputError
    from vitpose_trt.serve import ServerError

    with PoseClient(server.grpc_url) as client, pytest.raises(InputError, match="non-empty"):
        client.poses(np.zeros((0, 64, 3), np.uint8), ASTRONAUT_BOXES)
    # HTTP spoken to the gRPC port: not ready, and a request is a ServerError naming the address.
    with PoseClient(server.grpc_url, protocol="http") as confused:
        assert not confused.is_ready()
        with pytest.raises(ServerError, match=server.grpc_url):
            confused.poses(astronaut_rgb, ASTRONAUT_BOXES)


def test_jpeg_images_are_decoded_on_the_server(server, estimator, astronaut_rgb):
    data = _encoded(astronaut_rgb, ".jpg")
    with PoseClient(server.grpc_url) as client:
        served = client.poses(data, ASTRONAUT_BOXES)
    local = _as_reference(estimator(_decoded_jpeg(data), ASTRONAUT_BOXES))
    assert_same_poses(served, local, tolerance=CROSS_ENVIRONMENT_PIXELS)


def test_no_boxes_and_many_boxes(server, references, astronaut_rgb):
    with PoseClient(server.grpc_url) as client:
        empty = client.poses(astronaut_rgb, np.zeros((0, 4), np.float32))
        assert empty.keypoints.shape == (0, 17, 2) and empty.scores.shape == (0, 17)
        assert_same_poses(client.poses(astronaut_rgb, _many_boxes()), references["many"][0], _many_boxes())


def test_concurrent_requests_are_batched(server, references, astronaut_rgb):
    """8 clients at once, each with one box: Triton groups them (batch sizes > 1 in its statistics) and every
    client gets the pose of its own box."""
    boxes = _shifted_boxes()
    results, barrier = [None] * len(boxes), threading.Barrier(len(boxes))

    def send(index):
        with PoseClient(server.grpc_url) as client:
            barrier.wait()
            results[index] = client.poses(astronaut_rgb, boxes[index])

    with PoseClient(server.grpc_url) as client:
        before = client.batch_stats()
        threads = [threading.Thread(target=send, args=(i,)) for i in range(len(boxes))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        after = client.batch_stats()
    for index, served in enumerate(results):
        assert_same_poses(served, references["shifted"][index], boxes[index])
    new = {size: after.executions.get(size, 0) - before.executions.get(size, 0) for size in after.executions}
    assert max(size for size, count in new.items() if count) > 1, new
    print("batch executions during the test:", new)
    assert after.requests - before.requests == len(boxes)
    metrics = urllib.request.urlopen(f"http://{LOOPBACK}:{server.ports['metrics']}/metrics", timeout=10).read().decode()
    executions = _metric(metrics, "nv_inference_exec_count", "vitpose")
    requests = _metric(metrics, "nv_inference_request_success", "vitpose")
    assert requests > executions, (requests, executions)  # batched: fewer executions than requests


def _metric(text: str, name: str, model: str) -> float:
    for line in text.splitlines():
        if line.startswith(name + "{") and f'model="{model}"' in line:
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"{name} for {model} not in the metrics:\n{text[:2000]}")


def test_health_endpoints(server):
    for path in ("/v2/health/live", "/v2/health/ready", "/v2/models/vitpose/ready"):
        with urllib.request.urlopen(f"http://{server.http_url}{path}", timeout=10) as response:
            assert response.status == 200, path


def test_sigterm_stops_the_server_cleanly(server):
    """SIGTERM: vitpose-serve stops Triton (in-flight requests finish), exits 0, and every port closes."""
    with PoseClient(server.grpc_url) as client:
        assert client.is_ready()
    code = server.stop(signal.SIGTERM)
    assert code == 0, server.log_tail()
    assert "vitpose-serve: stopped" in server.log_tail()
    assert not any(port_open(port) for port in server.ports.values()), server.ports


def test_requests_cut_off_at_the_exit_timeout_make_the_stop_a_failure(server_pool, served_onnx, astronaut_rgb):
    """SIGTERM while requests run longer than --exit-timeout: Triton cuts them off and exits with a failure,
    which vitpose-serve reports (exit 1, saying why) instead of "stopped" and 0."""
    import time

    slow = server_pool.start_cli([str(served_onnx), "--threads", "1", "--max-batch", "1", "--exit-timeout", "1"])
    boxes = np.tile(ASTRONAUT_BOXES, (60, 1))  # 180 persons: seconds of work on one thread
    errors = []

    def request():
        try:
            with PoseClient(slow.grpc_url, timeout_s=120) as client:
                client.poses(astronaut_rgb, boxes)
        except Exception as exc:  # noqa: BLE001 - cut off by the stop, as this test makes happen
            errors.append(exc)

    clients = [threading.Thread(target=request) for _ in range(2)]
    for client in clients:
        client.start()
    time.sleep(1.0)  # both requests in flight, neither done
    code = slow.stop(signal.SIGTERM)
    for client in clients:
        client.join(120)
    tail = slow.log_tail()
    assert code == 1, tail
    assert "did not stop cleanly" in tail and "--exit-timeout 1 s were cut off" in tail
    assert "vitpose-serve: stopped" not in tail
