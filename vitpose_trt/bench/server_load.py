"""Load tests: N concurrent clients send a fixed number of pose requests; latency, throughput, and an
account that every request got exactly one answer, its own.

The same loop drives a Triton server (`server_sender`: one `PoseClient` per client thread) and the
in-process estimator (`in_process_sender`: concurrent `PoseEstimator` calls), so the two compare at the
same client count. Request i's boxes are the base boxes shifted by a per-request offset
(`ID_STEP_PX` px per id); the answer's boxes must carry the same shift, which identifies it: a lost,
duplicated or swapped answer shows in the account. Bounded in count (requests) and time (time_limit_s).
"""

from __future__ import annotations

import contextlib
import itertools
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ..errors import ConfigError, VitPoseError
from .stats import MS_PER_S, latency_stats

#: Request ids shift the boxes by this many px each (ids repeat after ID_CYCLE requests).
ID_STEP_PX = 0.25
ID_CYCLE = 64
#: An answer's boxes identify its request when they are within this of the request's (float32 echo).
ID_TOLERANCE_PX = 0.01

#: (image, boxes) -> the answer's boxes (N, 4); one per client thread.
Sender = Callable[[np.ndarray, np.ndarray], np.ndarray]


@dataclass(frozen=True)
class LoadPlan:
    """clients: concurrent threads; requests: timed requests in all (after warmup per client);
    time_limit_s: stop sending new requests after this long (the account then shows the shortfall)."""

    clients: int
    requests: int
    warmup: int = 1
    time_limit_s: float = 600.0

    def __post_init__(self) -> None:
        if self.clients < 1 or self.requests < 1 or self.warmup < 0 or self.time_limit_s <= 0:
            raise ConfigError("load plan: clients and requests must be >= 1, warmup >= 0, time limit > 0")


def request_boxes(boxes: np.ndarray, request_id: int) -> np.ndarray:
    """The boxes request `request_id` sends: `boxes` shifted right by its id offset."""
    shifted = np.array(boxes, np.float32, copy=True)
    shifted[:, [0, 2]] += np.float32(ID_STEP_PX * (request_id % ID_CYCLE))
    return shifted


def run_load(make_sender: Callable[[], Sender], image: np.ndarray, boxes: np.ndarray, plan: LoadPlan) -> dict:
    """Run `plan` with one `make_sender()` per client thread; returns the load report (see `load_report`).

    A request that fails (a `VitPoseError`: refused, or the server unreachable) counts as failed and the run
    goes on. An error while a client starts (making its sender, its warm-up requests) stops every client and
    is raised here, as is any other error of a client thread.
    """
    run = _LoadRun(plan, image, boxes)
    threads = [threading.Thread(target=run.client, args=(make_sender,), daemon=True) for _ in range(plan.clients)]
    for thread in threads:
        thread.start()
    with contextlib.suppress(threading.BrokenBarrierError):
        run.start_barrier.wait()
    for thread in threads:
        thread.join()
    if run.errors:
        raise run.errors[0]
    return load_report(run.records, run.failures, plan, time.perf_counter() - run.started, len(boxes))


class _LoadRun:
    """What the client threads of one `run_load` share: the request ids, the records, the start barrier
    (the clients and the caller; broken when a client fails to start) and the clock."""

    def __init__(self, plan: LoadPlan, image: np.ndarray, boxes: np.ndarray):
        self.plan, self.image, self.boxes = plan, image, boxes
        self.ids, self.lock = itertools.count(), threading.Lock()
        self.records, self.failures, self.errors = [], [], []
        self.started, self.deadline = 0.0, float("inf")
        self.start_barrier = threading.Barrier(plan.clients + 1, action=self._start_clock)

    def _start_clock(self) -> None:
        self.started = time.perf_counter()
        self.deadline = self.started + self.plan.time_limit_s

    def client(self, make_sender: Callable[[], Sender]) -> None:
        try:
            send = make_sender()
            for _ in range(self.plan.warmup):
                send(self.image, self.boxes)
            self.start_barrier.wait()
            self._timed_requests(send)
        except threading.BrokenBarrierError:
            pass  # another client failed to start: run_load raises its error
        except BaseException as exc:  # noqa: BLE001 - handed to the caller's thread, which raises it
            self.errors.append(exc)
            self.start_barrier.abort()

    def _timed_requests(self, send: Sender) -> None:
        while time.perf_counter() < self.deadline:
            with self.lock:
                request_id = next(self.ids)
            if request_id >= self.plan.requests:
                return
            sent = request_boxes(self.boxes, request_id)
            began = time.perf_counter()
            try:
                answer = send(self.image, sent)
            except VitPoseError as exc:
                with self.lock:
                    self.failures.append((request_id, str(exc)))
                continue
            ended = time.perf_counter()
            with self.lock:
                self.records.append((request_id, began, ended, np.asarray(answer, np.float32), sent))


def load_report(records: list, failures: list, plan: LoadPlan, wall_s: float, persons: int) -> dict:
    """The account and timings: requests sent / answered / failed / lost / duplicated / mismatched, latency
    p50/p90/p99 (ms), throughput (requests/s, persons/s)."""
    answered_ids = [request_id for request_id, *_ in records]
    mismatched = [request_id for request_id, _, _, answer, sent in records
                  if answer.shape != sent.shape or not np.allclose(answer, sent, atol=ID_TOLERANCE_PX)]
    sent_ids = set(answered_ids) | {request_id for request_id, _ in failures}
    latencies = [ended - began for _, began, ended, *_ in records]
    report = {
        "clients": plan.clients, "requests": plan.requests, "persons_per_request": persons,
        "answered": len(records), "failed": len(failures), "failures": failures[:5],
        "lost": plan.requests - len(sent_ids), "duplicated": len(answered_ids) - len(set(answered_ids)),
        "mismatched": len(mismatched), "wall_s": wall_s,
        "requests_per_s": len(records) / wall_s if wall_s > 0 else 0.0,
    }
    report["persons_per_s"] = report["requests_per_s"] * persons
    report["latency_ms"] = latency_stats(latencies).to_dict() if latencies else None
    report["latency_samples_ms"] = [round(s * MS_PER_S, 3) for s in latencies]
    return report


#: Counts that add up when several load runs are merged.
_COUNTS = ("requests", "answered", "failed", "lost", "duplicated", "mismatched", "wall_s")


def merged_load_report(reports: list[dict]) -> dict:
    """One report for several runs of the same load (say, rounds interleaved with another system's):
    counts and wall time add up, throughput is answered / wall time, latency over all samples."""
    merged = {**reports[0], **{key: sum(r[key] for r in reports) for key in _COUNTS}, "runs": len(reports)}
    merged["failures"] = [f for r in reports for f in r["failures"]][:5]
    merged["latency_samples_ms"] = [s for r in reports for s in r["latency_samples_ms"]]
    merged["requests_per_s"] = merged["answered"] / merged["wall_s"] if merged["wall_s"] > 0 else 0.0
    merged["persons_per_s"] = merged["requests_per_s"] * merged["persons_per_request"]
    samples = np.asarray(merged["latency_samples_ms"]) / MS_PER_S
    merged["latency_ms"] = latency_stats(samples).to_dict() if samples.size else None
    return merged


def server_sender(url: str, protocol: str = "grpc", encode: str | None = None, color: str = "rgb") -> Callable[[], Sender]:
    """Senders that send to the pose server at `url`, each with its own client; encode: None (raw pixels,
    which must be in the server's color order), ".jpg" or ".png" (the image, in `color` order, encoded
    once and its bytes sent)."""
    from ..serve.client import PoseClient

    cache = {}

    def make() -> Sender:
        client = PoseClient(url, protocol=protocol)

        def send(image, boxes):
            payload = image if encode is None else _encoded(image, encode, color, cache)
            return client.poses(payload, boxes).boxes

        return send

    return make


def in_process_sender(estimator) -> Callable[[], Sender]:
    """Senders that call `estimator` in the calling thread (it is thread-safe on CPU backends)."""
    return lambda: (lambda image, boxes: estimator(image, boxes).boxes)


def _encoded(image: np.ndarray, suffix: str, color: str, cache: dict) -> bytes:
    if suffix not in cache:
        import cv2

        ok, data = cv2.imencode(suffix, np.ascontiguousarray(image[:, :, ::-1]) if color == "rgb" else image)
        if not ok:
            raise ConfigError(f"cannot encode the image as {suffix}")
        cache[suffix] = data.tobytes()
    return cache[suffix]
