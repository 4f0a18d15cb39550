"""Model-only mode: time a backend's `infer` on a fixed batch and turn the samples into a result row."""

from __future__ import annotations

import gc
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ..artifacts.metadata import ArtifactMetadata
from ..errors import ConfigError
from .flops import macs_of_spec
from .memory import PeakHostMemory, device_memory_used_mib
from .roofline import MatmulPeak, roofline_percent
from .sources import ModelSource
from .stats import latency_stats, throughput
from .targets import backend_source, loaded_target
from .timing import timed_calls


@dataclass(frozen=True)
class Case:
    """One benchmark cell: `source` on `backend` in `precision`, `batch` crops per call."""

    source: ModelSource
    backend: str
    precision: str
    batch: int


def flops_per_crop(metadata: ArtifactMetadata) -> int:
    """Analytic FLOPs of one crop through the pose network `metadata` describes (see `flops.macs_of_spec`)."""
    pose = metadata.pose if metadata is not None else None
    if pose is None or pose.spec is None:
        raise ConfigError("the model's metadata names no ViTPose architecture, so its FLOPs are unknown; "
                          "benchmark files written by vitpose-export")
    return macs_of_spec(pose.spec, pose.num_keypoints).flops


def result_row(case: Case, seconds: list[float], *, warmup: int, clock: str, threads: int | None,
               flops_per_item: int, peak: MatmulPeak | None, memory: PeakHostMemory,
               device_mib: float | None, artifact: str | None, notes: list[str], mode: str = "model-only",
               unit: str = "crops/s") -> dict:
    """The report's result object for `case` from its timed durations `seconds` (warm-up excluded)."""
    rate = throughput(case.batch, seconds)
    achieved = rate * flops_per_item
    return {
        "mode": mode, "model": case.source.label, "backend": case.backend, "precision": case.precision,
        "batch": case.batch, "latency_ms": latency_stats(seconds).to_dict(), "throughput": rate,
        "throughput_unit": unit, "warmup": warmup, "iters": len(seconds), "clock": clock, "threads": threads,
        "flops_per_item": int(flops_per_item), "achieved_flops_per_s": achieved,
        "roofline_percent": None if peak is None else roofline_percent(achieved, peak),
        "peak_precision": None if peak is None else peak.precision,
        "host_peak_rss_mib": memory.peak_mib, "host_rss_scope": memory.scope, "device_memory_mib": device_mib,
        "artifact": artifact, "notes": notes,
    }


def run_case(case: Case, *, warmup: int, iters: int, threads: int | None, cache: Path,
             peak: MatmulPeak | None, on_step: Callable[[], None] | None = None) -> dict:
    """Load `case`, run `warmup` untimed and `iters` timed batches, return its result row.

    Exports or builds the artifact first when it is not cached; peak host RSS then covers loading and
    running only (the window scope resets it per case on Linux).
    """
    loaded_from = backend_source(case.source, case.backend, case.precision, case.batch, cache)
    gc.collect()
    with PeakHostMemory() as memory:
        target = loaded_target(case.source, case.backend, loaded_from, case.batch, threads, case.precision)
        seconds = timed_calls(target.run, warmup, iters, target.clock, on_step)
    device_mib = device_memory_used_mib() if target.device == "cuda" else None
    return result_row(
        case, seconds, warmup=warmup, clock=target.clock.name, threads=threads,
        flops_per_item=flops_per_crop(target.metadata), peak=peak, memory=memory,
        device_mib=device_mib, artifact=target.artifact, notes=target.notes,
    )
