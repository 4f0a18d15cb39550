"""A real vitpose-tiny benchmark report, produced once for the report and schema tests; a loopback address
where no server listens, for the load test's failures."""

from __future__ import annotations

import socket

import pytest

LOOPBACK = "127.0.0.1"


@pytest.fixture(scope="session")
def bench_cache(tmp_path_factory):
    """A cache folder shared by every bench test (each ONNX export happens once)."""
    return tmp_path_factory.mktemp("bench-cache")


@pytest.fixture(scope="session")
def tiny_report(bench_cache):
    """Report of vitpose-tiny on onnxruntime and torch x fp32, fp16, int8, batches 1 and 2, 3 timed calls each.

    torch runs fp32 only: its fp16 and int8 cells are skipped with their reasons.
    """
    from vitpose_trt.bench.plan import benchmark_plan
    from vitpose_trt.bench.run import benchmark_report
    from vitpose_trt.bench.sources import model_source

    plan = benchmark_plan([model_source("vitpose-tiny")], ["onnxruntime", "torch"], ["fp32", "fp16", "int8"], [1, 2])
    return benchmark_report(plan, warmup=1, iters=3, threads=1, cache=bench_cache, command=["test"])


@pytest.fixture
def refused_url():
    """host:port on loopback that refuses connections: a socket holds the port (so nothing else can take it)
    without listening, until the test ends."""
    with socket.socket() as held:
        held.bind((LOOPBACK, 0))
        yield f"{LOOPBACK}:{held.getsockname()[1]}"
