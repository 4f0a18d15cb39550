"""Latency statistics of timed calls: percentiles in milliseconds and throughput in items per second."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from ..errors import ConfigError

#: Percentiles every report carries (the JSON keys are "p50", "p90", "p99").
PERCENTILES = (50, 90, 99)
MS_PER_S = 1000.0


@dataclass(frozen=True)
class LatencyStats:
    """Summary of per-call wall times, in milliseconds. `count` is the number of timed calls."""

    p50: float
    p90: float
    p99: float
    mean: float
    std: float
    min: float
    max: float
    count: int

    def to_dict(self) -> dict:
        return asdict(self)


def latency_stats(seconds) -> LatencyStats:
    """Summarise per-call durations `seconds` (1-D, float seconds, warm-up already excluded).

    Percentiles use linear interpolation between order statistics (numpy's default), so p99 of fewer
    than 100 samples lies between the two slowest calls. Raises `ConfigError` on empty or negative input.
    """
    values = np.asarray(seconds, dtype=np.float64).ravel()
    if values.size == 0:
        raise ConfigError("no timed iterations: need at least one (--iters >= 1)")
    if not np.all(np.isfinite(values)) or np.any(values < 0):
        raise ConfigError("durations must be finite and non-negative")
    ms = values * MS_PER_S
    p50, p90, p99 = (float(v) for v in np.percentile(ms, PERCENTILES))
    return LatencyStats(
        p50=p50, p90=p90, p99=p99, mean=float(ms.mean()), std=float(ms.std()),
        min=float(ms.min()), max=float(ms.max()), count=int(ms.size),
    )


def throughput(items_per_call: int, seconds) -> float:
    """Items per second sustained over the timed calls: items_per_call * calls / total time.

    This is the batch divided by the *mean* latency, the rate a saturated loop achieves; the median
    would overstate it when a few calls are slow.
    """
    values = np.asarray(seconds, dtype=np.float64).ravel()
    total = float(values.sum())
    if values.size == 0 or total <= 0:
        raise ConfigError("throughput needs at least one timed call with positive duration")
    return items_per_call * values.size / total
