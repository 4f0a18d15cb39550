"""A soak run: thousands of `PoseEstimator` calls on the CPU with varying person counts and image sizes
(vitpose-tiny in ONNX Runtime) leave the process's memory where the warm-up left it.

Two measures after a warm-up that has seen every image size and the largest batch: resident set size
(native allocations: ONNX Runtime, OpenCV, numpy buffers) and tracemalloc's count of live Python/numpy
allocations. They are taken in a fresh interpreter (this file run as a script): in the test process the
heap left by hundreds of earlier tests (PyTorch, ModelOpt, large exports) made RSS grow in steps that are
not the estimator's (seen once: +16 MiB at 1.5 GiB RSS in the full suite, where a fresh process or one that
ran only the export tests first gives +0.1-1.4 MiB). The longer, recorded version is
benchmarks/soak/soak_rss.py.
"""

from __future__ import annotations

import gc
import json
import subprocess
import sys
import tracemalloc
from pathlib import Path

import numpy as np
import pytest

import vitpose_trt as vt
from vitpose_trt.bench.memory import current_rss_mib

WARMUP_CALLS = 200
SOAK_CALLS = 1500
RSS_SAMPLE_EVERY = 250
#: (height, width) of the frames, cycled.
IMAGE_SIZES = [(480, 640), (720, 1280), (240, 320), (1080, 1920), (100, 80), (333, 517)]
MAX_PERSONS = 2
#: Allowed growth after the warm-up. A leak of one crop (590 KB) per call would be ~1 GiB.
RSS_BOUND_MIB = 12.0
PYTHON_BOUND_MIB = 1.0
MIB = 2**20
CHILD_TIMEOUT_S = 600


def _frames() -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    return [rng.integers(0, 256, (*size, 3), dtype=np.uint8) for size in IMAGE_SIZES]


def _calls(frames: list[np.ndarray], count: int, seed: int):
    """(image, boxes) per call: frames cycled, 0..MAX_PERSONS boxes, some partly or wholly off the image."""
    rng = np.random.default_rng(seed)
    for index in range(count):
        image = frames[index % len(frames)]
        height, width = image.shape[:2]
        persons = index % (MAX_PERSONS + 1)
        corner = rng.uniform(-100, [width, height], size=(persons, 2))
        yield image, np.concatenate([corner, corner + rng.uniform(2, 500, size=(persons, 2))], axis=1)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads the resident set size from /proc")
def test_thousands_of_calls_do_not_grow_memory(tiny_onnx_path):
    child = subprocess.run([sys.executable, __file__, str(tiny_onnx_path)], capture_output=True, text=True,
                           timeout=CHILD_TIMEOUT_S, check=False)
    assert child.returncode == 0, child.stderr[-3000:]
    measured = json.loads(child.stdout.strip().splitlines()[-1])
    assert measured["rss_growth_mib"] < RSS_BOUND_MIB, (
        f"RSS grew {measured['rss_growth_mib']:.1f} MiB over {SOAK_CALLS} calls: {measured['rss_samples']}")
    assert measured["python_growth_mib"] < PYTHON_BOUND_MIB, (
        f"live Python/numpy memory grew {measured['python_growth_mib']:.2f} MiB")


def memory_growth(onnx_path: Path) -> dict:
    """Warm up, then soak: RSS and live Python/numpy growth (MiB) and the RSS samples, of this process."""
    estimator = vt.PoseEstimator(onnx_path, threads=1)
    frames = _frames()
    for image, boxes in _calls(frames, WARMUP_CALLS, seed=0):
        estimator(image, boxes)
    gc.collect()
    tracemalloc.start()
    try:
        rss_start, python_start = current_rss_mib(), tracemalloc.get_traced_memory()[0]
        rss_samples = _soak(estimator, frames)
        gc.collect()
        python_growth = (tracemalloc.get_traced_memory()[0] - python_start) / MIB
    finally:
        tracemalloc.stop()
    return {"rss_growth_mib": current_rss_mib() - rss_start, "python_growth_mib": python_growth,
            "rss_samples": rss_samples}


def _soak(estimator, frames) -> list[float]:
    """Run the soak calls, checking each result; return RSS samples (MiB) every RSS_SAMPLE_EVERY calls."""
    samples = []
    for index, (image, boxes) in enumerate(_calls(frames, SOAK_CALLS, seed=1)):
        poses = estimator(image, boxes)
        assert len(poses) == len(boxes) and np.isfinite(poses.keypoints).all()
        if index % RSS_SAMPLE_EVERY == 0:
            samples.append(round(current_rss_mib(), 1))
    return samples


if __name__ == "__main__":
    print(json.dumps(memory_growth(Path(sys.argv[1]))))
