"""The load test's loop (`run_load`) ends promptly whatever its clients meet: a server that refuses every
connection, a client that cannot start, a sender with a bug; and it accounts for every request."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from vitpose_trt.bench.server_load import LoadPlan, run_load, server_sender
from vitpose_trt.errors import ConfigError
from vitpose_trt.serve.client import ServerError

IMAGE = np.zeros((64, 48, 3), np.uint8)
BOXES = np.array([[4, 4, 40, 60]], np.float32)
#: Seconds within which every run here must end (each takes well under one when nothing hangs).
PROMPT_S = 30
#: A client thread's error must reach the caller, never die with the thread (printed, then a hang or a gap).
pytestmark = pytest.mark.filterwarnings("error::pytest.PytestUnhandledThreadExceptionWarning")


def _outcome_within(seconds: float, call) -> dict:
    """{"value": call()} or {"error": what it raised}; fails the test when call() is still running after
    `seconds` (it hangs: its daemon thread is left behind)."""
    outcome = {}

    def target():
        try:
            outcome["value"] = call()
        except BaseException as exc:  # noqa: BLE001 - the test inspects it
            outcome["error"] = exc

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), f"run_load still running after {seconds} s"
    return outcome


def _echo_sender(image, boxes):
    """A server that answers every request with its own boxes."""
    return boxes


def test_a_url_with_a_scheme_is_refused_by_the_client():
    from vitpose_trt.serve.client import PoseClient

    with pytest.raises(ConfigError, match="give host:port, without a scheme"):
        PoseClient("http://127.0.0.1:8000", protocol="http")


@pytest.mark.parametrize("protocol", ["grpc", "http"])
def test_a_refused_warm_up_ends_the_run_with_its_error(refused_url, protocol):
    plan = LoadPlan(clients=3, requests=6, warmup=1)
    outcome = _outcome_within(PROMPT_S, lambda: run_load(server_sender(refused_url, protocol), IMAGE, BOXES, plan))
    error = outcome.get("error")
    assert isinstance(error, ServerError) and refused_url in str(error), outcome


@pytest.mark.parametrize("protocol", ["grpc", "http"])
def test_without_warm_up_every_refused_request_counts_as_failed(refused_url, protocol):
    plan = LoadPlan(clients=2, requests=4, warmup=0)
    report = _outcome_within(PROMPT_S, lambda: run_load(server_sender(refused_url, protocol), IMAGE, BOXES, plan))["value"]
    assert (report["answered"], report["failed"], report["lost"]) == (0, 4, 0)
    assert report["latency_ms"] is None and len(report["failures"]) == 4


def test_one_client_that_cannot_start_stops_them_all():
    made = []

    def make_sender():
        made.append(None)
        if len(made) == 2:
            raise ConfigError("this client cannot start")
        return _echo_sender

    outcome = _outcome_within(PROMPT_S, lambda: run_load(make_sender, IMAGE, BOXES, LoadPlan(clients=4, requests=8)))
    assert str(outcome.get("error")) == "this client cannot start"


def test_an_error_that_is_not_a_failed_request_is_raised():
    """A sender's bug (not a toolkit or connection error) is not a failed request: run_load raises it."""
    def buggy_sender(image, boxes):
        if boxes[0, 0] > BOXES[0, 0]:  # every request but the first: request ids shift the boxes
            raise RuntimeError("a bug in the sender")
        return boxes

    outcome = _outcome_within(PROMPT_S, lambda: run_load(lambda: buggy_sender, IMAGE, BOXES,
                                                         LoadPlan(clients=2, requests=16)))
    assert str(outcome.get("error")) == "a bug in the sender"


def test_every_request_is_answered_once():
    report = _outcome_within(PROMPT_S, lambda: run_load(lambda: _echo_sender, IMAGE, BOXES,
                                                        LoadPlan(clients=3, requests=20)))["value"]
    assert (report["answered"], report["failed"], report["lost"], report["duplicated"], report["mismatched"]) == \
        (20, 0, 0, 0, 0)
    assert report["wall_s"] > 0 and len(report["latency_samples_ms"]) == 20
