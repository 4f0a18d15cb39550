"""Latency statistics, throughput and the timed loop (real sleeps, real clocks)."""

from __future__ import annotations

import time

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from vitpose_trt.bench.stats import latency_stats, throughput
from vitpose_trt.bench.timing import HostClock, timed_calls
from vitpose_trt.errors import ConfigError


def test_percentiles_interpolate_between_order_statistics():
    # 1..100 ms: the linear-interpolation percentile q of 1..100 is 1 + 0.99 q.
    stats = latency_stats(np.arange(1, 101) / 1000.0)
    assert stats.p50 == pytest.approx(50.5)
    assert stats.p90 == pytest.approx(90.1)
    assert stats.p99 == pytest.approx(99.01)
    assert (stats.min, stats.max, stats.count) == (pytest.approx(1.0), pytest.approx(100.0), 100)
    assert stats.mean == pytest.approx(50.5)


def test_single_sample_is_every_percentile():
    stats = latency_stats([0.25])
    assert stats.p50 == stats.p90 == stats.p99 == stats.min == stats.max == pytest.approx(250.0)
    assert stats.std == 0.0


@given(st.lists(st.floats(min_value=0.0, max_value=10.0, allow_nan=False), min_size=1, max_size=200))
def test_summary_is_ordered_and_bounded(samples):
    s = latency_stats(samples)
    assert s.min <= s.p50 <= s.p90 <= s.p99 <= s.max
    assert s.min - 1e-9 <= s.mean <= s.max + 1e-9
    assert s.count == len(samples)


@pytest.mark.parametrize("bad", [[], [0.1, -0.001], [float("nan")], [float("inf")]])
def test_bad_durations_are_refused(bad):
    with pytest.raises(ConfigError):
        latency_stats(bad)


def test_throughput_is_batch_over_mean_latency():
    # Two calls of 8 crops taking 0.1 s and 0.3 s: 16 crops in 0.4 s.
    assert throughput(8, [0.1, 0.3]) == pytest.approx(40.0)
    with pytest.raises(ConfigError):
        throughput(8, [])


def test_warmup_calls_are_run_but_not_timed():
    calls = []

    def call():
        # The first two (warm-up) calls are slow, like a first inference allocating its buffers.
        time.sleep(0.05 if len(calls) < 2 else 0.002)
        calls.append(1)

    steps = []
    durations = timed_calls(call, warmup=2, iters=5, clock=HostClock(), on_step=lambda: steps.append(1))
    assert len(calls) == 7 and len(steps) == 7 and len(durations) == 5
    assert all(0.002 <= d < 0.04 for d in durations)


@pytest.mark.parametrize("warmup,iters", [(-1, 3), (0, 0)])
def test_timed_loop_needs_sane_counts(warmup, iters):
    with pytest.raises(ConfigError):
        timed_calls(lambda: None, warmup, iters)
