"""Batch-size buckets for CUDA graphs: one captured graph per bucket instead of one per batch size.

A batch of n crops runs as the smallest bucket >= n; the rows past n hold stale crops whose heatmaps
are ignored (every crop is independent: no layer mixes samples at inference). Pure Python.
"""

from __future__ import annotations

from ..errors import ConfigError
from ..option_checks import positive_int

#: Eager runs of a bucket before its graph is captured (TensorRT and cuDNN settle lazily on first use).
WARMUP_RUNS = 1


def batch_buckets(max_batch: int) -> tuple[int, ...]:
    """(1, 2, 4, ..., max_batch): powers of two below `max_batch`, then `max_batch` itself."""
    max_batch = positive_int("max_batch", max_batch)
    buckets, size = [], 1
    while size < max_batch:
        buckets.append(size)
        size *= 2
    return (*buckets, max_batch)


def bucket_for(count: int, buckets: tuple[int, ...]) -> int:
    """The smallest bucket holding `count` rows; ConfigError when `count` exceeds the largest."""
    for bucket in buckets:
        if count <= bucket:
            return bucket
    raise ConfigError(f"batch of {count} crops exceeds max_batch {buckets[-1]}")
