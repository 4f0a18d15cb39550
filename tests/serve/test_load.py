"""A small, bounded load test on loopback (the full one is benchmarks/serve): concurrent clients, a fixed
number of requests, every request answered exactly once with its own answer; and vitpose-bench --server."""

from __future__ import annotations

import json

import numpy as np

from vitpose_trt.bench.server_load import (
    LoadPlan,
    in_process_sender,
    request_boxes,
    run_load,
    server_sender,
)
from vitpose_trt.cli.bench import main as bench_main
from vitpose_trt.runtime import PoseEstimator

BOXES = np.array([[140, 20, 360, 500], [60, 100, 240, 480]], np.float32)
#: Bounded in count and time: 4 clients, 32 requests, at most a minute.
PLAN = LoadPlan(clients=4, requests=32, warmup=1, time_limit_s=60)


def _assert_every_request_answered_once(report: dict) -> None:
    assert report["failed"] == 0, report["failures"]
    assert (report["answered"], report["lost"], report["duplicated"], report["mismatched"]) == (PLAN.requests, 0, 0, 0)
    assert report["latency_ms"]["p99"] >= report["latency_ms"]["p50"] > 0


def test_concurrent_clients_get_every_answer_once(server, astronaut_rgb):
    report = run_load(server_sender(server.grpc_url), astronaut_rgb, BOXES, PLAN)
    _assert_every_request_answered_once(report)
    jpeg = run_load(server_sender(server.http_url, "http", ".jpg"), astronaut_rgb, BOXES, PLAN)
    _assert_every_request_answered_once(jpeg)


def test_the_same_loop_runs_in_process(served_onnx, astronaut_rgb):
    estimator = PoseEstimator(served_onnx, color="rgb", threads=1)
    _assert_every_request_answered_once(run_load(in_process_sender(estimator), astronaut_rgb, BOXES, PLAN))


def test_request_ids_shift_the_boxes():
    assert not np.allclose(request_boxes(BOXES, 1), request_boxes(BOXES, 2))
    np.testing.assert_array_equal(request_boxes(BOXES, 0), BOXES)


def test_vitpose_bench_server_mode(server, tmp_path, capsys):
    out = tmp_path / "load.json"
    code = bench_main(["--server", server.grpc_url, "--clients", "3", "--requests", "12", "--persons", "2",
                       "--json", str(out)])
    assert code == 0, capsys.readouterr().err
    report = json.loads(out.read_text())
    assert report["answered"] == 12 and report["persons_per_request"] == 2 and report["lost"] == 0
    assert "12/12 answered" in capsys.readouterr().out
    assert bench_main(["--server", server.grpc_url, "--backend", "onnxruntime"]) == 2
    assert bench_main(["--clients", "3"]) == 2
