"""Crop-kernel and heatmap-decode timings: the CUDA stages beside their CPU equivalents, plus parity checks.

Part of `benchmarks/gpu/run.sh`; runs alone too (`python benchmarks/gpu/kernel_timings.py --json t.json`).

Timed (median, p90 and min of `--runs` calls after `--warmup` untimed ones):
- `CudaCrops` on seeded random 1080p and 4K uint8 BGR frames, N = 1/8/32 persons (the pipeline benchmark's
  seeded boxes), flip test on (2N crops), into fp32 and fp16 (N*2, 3, 256, 192) buffers, with the image on
  the host (pinned staging + upload included) and already on the GPU. CUDA events, device synchronised
  before the end event (`bench.timing.CudaEventClock`).
- `keypoints_from_heatmaps(xp=cupy)` on (N, 17, 64, 48) float32 heatmaps for every decode method and
  N = 1/8/32/64, results left on the GPU. CUDA events.
- The CPU equivalents: cv2 `CpuCrops` (fp32 out) and numpy decode on the same inputs. perf_counter.

Checked on the GPU (recorded under "checks"): CUDA crops equal the cv2 crops within one 8-bit level (both
warps); the fp16 buffer holds the fp32 crops rounded to fp16, bit for bit; CuPy decode equals numpy decode
within 1e-3 px with equal scores, for every method, on peaked heatmaps.

The GPU half is skipped, with the reason in "skipped", where CuPy or a GPU is missing; the CPU crops where
OpenCV is missing. Cases left when `--budget-s` runs out are skipped too. Exit status 1 when a check failed.
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from vitpose_trt.atomic_files import write_text_atomically
from vitpose_trt.bench.pipeline import person_boxes
from vitpose_trt.bench.stats import latency_stats
from vitpose_trt.bench.timing import CudaEventClock, HostClock, timed_calls
from vitpose_trt.decode import keypoints_from_heatmaps
from vitpose_trt.errors import DeviceError, MissingDependencyError
from vitpose_trt.geometry import warps_from_boxes
from vitpose_trt.keypoints import DARK_BLUR_KERNEL, DECODERS
from vitpose_trt.specs import HEATMAP_HEIGHT, HEATMAP_WIDTH, INPUT_HEIGHT, INPUT_WIDTH, PIXEL_STD_RGB

SCHEMA = "vitpose-trt/gpu-kernel-timings/1"
#: Frame name -> (height, width).
FRAMES = {"1080p": (1080, 1920), "4k": (2160, 3840)}
PERSONS = (1, 8, 32)
DECODE_BATCHES = (1, 8, 32, 64)
CROP_DTYPES = ("float32", "float16")
IMAGE_PLACES = ("host", "device")
WARPS = ("udp", "classic")
#: The warp timed (COCO's official one); both warps are checked.
TIMED_WARP = "udp"
COLOR = "bgr"
KEYPOINTS = 17
DEFAULT_RUNS, DEFAULT_WARMUP = 30, 5
DEFAULT_BUDGET_S = 50.0
FRAME_SEED, HEATMAP_SEED = 0, 1
#: Peaked heatmaps: Gaussian sigma (px), amplitude range, peak distance from the border (px), noise level.
PEAK_SIGMA, PEAK_AMPLITUDE, PEAK_MARGIN, HEATMAP_NOISE = 2.0, (0.3, 1.0), 2.0, 0.01
#: Crops: one 8-bit level (plus float slack); decode: keypoints within this many heatmap px.
CROP_LEVEL_TOLERANCE = 1.0 + 1e-3
DECODE_TOLERANCE_PX = 1e-3
CHECK_PERSONS = 32
CHECK_DECODE_BATCH = 64
_CHANNELS = 3


@dataclass(frozen=True)
class Settings:
    runs: int
    warmup: int
    frames: tuple[str, ...]
    persons: tuple[int, ...]
    batches: tuple[int, ...]


@dataclass
class TimedCase:
    """`call` timed as described by `row` (stage, device and the case's parameters)."""

    row: dict
    call: Callable[[], object]


class Budget:
    """Seconds left of the time this script may spend on timings."""

    def __init__(self, seconds: float):
        self.deadline = time.monotonic() + seconds

    def spent(self) -> bool:
        return time.monotonic() >= self.deadline


def frame_image(name: str) -> np.ndarray:
    """(H, W, 3) uint8 seeded random frame of size FRAMES[name] (content does not change the speed)."""
    rng = np.random.default_rng(FRAME_SEED)
    return rng.integers(0, 256, (*FRAMES[name], _CHANNELS), dtype=np.uint8)


def frame_warps(image: np.ndarray, persons: int, warp: str = TIMED_WARP) -> np.ndarray:
    """(persons, 2, 3) float64 image px -> crop px matrices of the pipeline benchmark's seeded boxes."""
    return warps_from_boxes(person_boxes(image.shape, persons), warp)


def peaked_heatmaps(count: int) -> np.ndarray:
    """(count, 17, 64, 48) float32: per map one Gaussian peak at a random sub-pixel point, on faint noise."""
    rng = np.random.default_rng(HEATMAP_SEED)
    shape = (count, KEYPOINTS, 1, 1)
    cx = rng.uniform(PEAK_MARGIN, HEATMAP_WIDTH - 1 - PEAK_MARGIN, shape)
    cy = rng.uniform(PEAK_MARGIN, HEATMAP_HEIGHT - 1 - PEAK_MARGIN, shape)
    amplitude = rng.uniform(*PEAK_AMPLITUDE, shape)
    y, x = np.mgrid[0:HEATMAP_HEIGHT, 0:HEATMAP_WIDTH]
    peaks = amplitude * np.exp(-((x - cx) ** 2 + (y - cy) ** 2) / (2 * PEAK_SIGMA**2))
    noise = rng.uniform(0, HEATMAP_NOISE, (count, KEYPOINTS, HEATMAP_HEIGHT, HEATMAP_WIDTH))
    return (peaks + noise).astype(np.float32)


def timing_row(row: dict, seconds: list[float], clock: str) -> dict:
    """`row` plus median/p90/min milliseconds of the timed `seconds`, their count and the clock."""
    stats = latency_stats(seconds)
    return {**row, "median_ms": stats.p50, "p90_ms": stats.p90, "min_ms": stats.min, "runs": stats.count,
            "clock": clock}


def run_cases(cases: Iterator[TimedCase], clock, settings: Settings, budget: Budget, report: dict) -> None:
    """Time every case (warm-up first) into report["timings"]; cases past the budget go to report["skipped"]."""
    for case in cases:
        if budget.spent():
            report["skipped"].append({**case.row, "reason": "time budget (--budget-s) spent"})
            continue
        seconds = timed_calls(case.call, settings.warmup, settings.runs, clock)
        report["timings"].append(timing_row(case.row, seconds, clock.name))


def gpu_crop_cases(cp, settings: Settings) -> Iterator[TimedCase]:
    """CudaCrops, flip on, per frame x persons x output dtype x where the image lives."""
    from vitpose_trt.runtime.cuda_crops import CudaCrops

    stage = CudaCrops(COLOR)
    for frame in settings.frames:
        image = frame_image(frame)
        places = {"host": image, "device": cp.asarray(image)}
        for persons, dtype, place in itertools.product(settings.persons, CROP_DTYPES, IMAGE_PLACES):
            warps = frame_warps(image, persons)
            out = cp.empty((2 * persons, _CHANNELS, INPUT_HEIGHT, INPUT_WIDTH), dtype)
            row = {"stage": "crops", "device": "cuda", "frame": frame, "persons": persons, "flip": True,
                   "out_dtype": dtype, "image_on": place}
            yield TimedCase(row, lambda i=places[place], w=warps, o=out: stage(i, w, True, o))


def cpu_crop_cases(settings: Settings) -> Iterator[TimedCase]:
    """cv2 CpuCrops (fp32 out, image on the host), flip on, per frame x persons."""
    from vitpose_trt.runtime.cpu_crops import CpuCrops

    stage = CpuCrops(COLOR)
    for frame in settings.frames:
        image = frame_image(frame)
        for persons in settings.persons:
            warps = frame_warps(image, persons)
            row = {"stage": "crops", "device": "cpu", "frame": frame, "persons": persons, "flip": True,
                   "out_dtype": "float32", "image_on": "host"}
            yield TimedCase(row, lambda i=image, w=warps: stage(i, w, True))


def decode_cases(xp, device: str, settings: Settings) -> Iterator[TimedCase]:
    """keypoints_from_heatmaps on `xp` (numpy or cupy) per method x batch, inputs already on the device."""
    for batch in settings.batches:
        maps = xp.asarray(peaked_heatmaps(batch))
        for method in DECODERS:
            row = {"stage": "decode", "device": device, "method": method, "persons": batch,
                   "heatmaps": [batch, KEYPOINTS, HEATMAP_HEIGHT, HEATMAP_WIDTH]}
            yield TimedCase(row, lambda m=maps, k=method: keypoints_from_heatmaps(m, k, DARK_BLUR_KERNEL, xp=xp))


def check(name: str, passed: bool | None, detail: str) -> dict:
    """A parity check's record; passed None = could not run (detail says why)."""
    return {"name": name, "passed": passed, "detail": detail}


def crop_checks(cp) -> list[dict]:
    """CUDA crops vs cv2 crops (fp32, both warps, per frame) and the fp16 buffer vs the fp32 crops.

    The frames are random noise, the hardest case for "within one level": any difference in the sampling
    arithmetic shows at full contrast.
    """
    from vitpose_trt.dependencies import import_optional
    from vitpose_trt.runtime.cpu_crops import CpuCrops
    from vitpose_trt.runtime.cuda_crops import CudaCrops

    try:
        cv2 = import_optional("cv2", "the CPU reference crops")
    except MissingDependencyError as exc:
        return [check("cuda crops == cv2 crops", None, str(exc))]
    gpu, levels = CudaCrops(COLOR), np.asarray(PIXEL_STD_RGB, np.float32)[:, None, None]
    checks = []
    for frame, warp in itertools.product(FRAMES, WARPS):
        image = frame_image(frame)
        warps = frame_warps(image, CHECK_PERSONS, warp)
        expected = CpuCrops(COLOR)(image, warps, True)
        got = cp.asnumpy(gpu(image, warps, True))
        worst = float((np.abs(got - expected) * levels).max())
        differing = float(np.mean(got != expected))
        checks.append(check(f"cuda crops == cv2 crops ({frame}, {warp}, {CHECK_PERSONS} persons, flip)",
                            worst <= CROP_LEVEL_TOLERANCE,
                            f"max difference {worst:.4f} levels (limit {CROP_LEVEL_TOLERANCE}); "
                            f"{differing:.4%} of values not bit-equal; OpenCV {cv2.__version__} (the kernel "
                            "follows OpenCV 5's float path)"))
        half = cp.empty(got.shape, cp.float16)
        same = np.array_equal(cp.asnumpy(gpu(image, warps, True, half)).view(np.uint16),
                              got.astype(np.float16).view(np.uint16))
        checks.append(check(f"fp16 crops == fp32 crops rounded ({frame}, {warp})", same,
                            "bit-equal" if same else "fp16 buffer differs from the fp32 crops rounded to fp16"))
    return checks


def decode_checks(cp) -> list[dict]:
    """CuPy decode vs numpy decode, every method, on CHECK_DECODE_BATCH peaked heatmaps."""
    maps = peaked_heatmaps(CHECK_DECODE_BATCH)
    checks = []
    for method in DECODERS:
        coords, scores = keypoints_from_heatmaps(maps, method, DARK_BLUR_KERNEL)
        coords_gpu, scores_gpu = keypoints_from_heatmaps(cp.asarray(maps), method, DARK_BLUR_KERNEL, xp=cp)
        worst = float(np.abs(cp.asnumpy(coords_gpu) - coords).max())
        same_scores = bool(np.array_equal(cp.asnumpy(scores_gpu), scores))
        checks.append(check(f"cupy decode == numpy decode ({method}, N={CHECK_DECODE_BATCH})",
                            worst <= DECODE_TOLERANCE_PX and same_scores,
                            f"max keypoint difference {worst:.2e} px (limit {DECODE_TOLERANCE_PX}); "
                            f"scores {'equal' if same_scores else 'differ'}"))
    return checks


def cuda_environment(cp, device) -> dict:
    """The GPU, CUDA runtime/driver versions and CuPy version the GPU half ran with."""
    from vitpose_trt.gpus import dotted_compute_capability

    return {"name": device.name, "compute_capability": dotted_compute_capability(device.compute_capability),
            "memory_gib": round((device.total_memory_bytes or 0) / 2**30, 1), "cupy": cp.__version__,
            "cuda_runtime": cp.cuda.runtime.runtimeGetVersion(), "cuda_driver": cp.cuda.runtime.driverGetVersion()}


def gpu_half(settings: Settings, budget: Budget, report: dict) -> None:
    """Checks, then CUDA crop and CuPy decode timings; skipped with the reason when there is no GPU."""
    from vitpose_trt.runtime.cuda_device import cuda_device

    try:
        device = cuda_device(None, "the GPU kernel timings")
    except (MissingDependencyError, DeviceError) as exc:
        report["skipped"].append({"stage": "crops and decode", "device": "cuda", "reason": str(exc)})
        report["checks"].append(check("gpu parity checks", None, str(exc)))
        return
    import cupy as cp  # cuda_device() has imported it

    report["cuda"] = cuda_environment(cp, device)
    report["checks"] += crop_checks(cp) + decode_checks(cp)
    clock = CudaEventClock()
    run_cases(gpu_crop_cases(cp, settings), clock, settings, budget, report)
    run_cases(decode_cases(cp, "cuda", settings), clock, settings, budget, report)


def cpu_half(settings: Settings, budget: Budget, report: dict) -> None:
    """cv2 crop and numpy decode timings (crops skipped with the reason when OpenCV is missing)."""
    from vitpose_trt.dependencies import import_optional

    try:
        import_optional("cv2", "the CPU crop timings")
        run_cases(cpu_crop_cases(settings), HostClock(), settings, budget, report)
    except MissingDependencyError as exc:
        report["skipped"].append({"stage": "crops", "device": "cpu", "reason": str(exc)})
    run_cases(decode_cases(np, "cpu", settings), HostClock(), settings, budget, report)


def _ints(text: str) -> tuple[int, ...]:
    return tuple(int(t) for t in text.split(","))


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--json", required=True, help="write the results here")
    p.add_argument("--device", choices=("both", "gpu", "cpu"), default="both", help="which half to run")
    p.add_argument("--runs", type=int, default=DEFAULT_RUNS, help=f"timed calls per case (default {DEFAULT_RUNS})")
    p.add_argument("--warmup", type=int, default=DEFAULT_WARMUP, help=f"untimed calls first (default {DEFAULT_WARMUP})")
    p.add_argument("--frames", default=",".join(FRAMES), help=f"comma-separated, of {', '.join(FRAMES)}")
    p.add_argument("--persons", default=",".join(map(str, PERSONS)), help="crop cases: persons per frame")
    p.add_argument("--decode-batches", default=",".join(map(str, DECODE_BATCHES)), help="decode cases: N")
    p.add_argument("--budget-s", type=float, default=DEFAULT_BUDGET_S, help="stop starting timings after this")
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    frames = tuple(args.frames.split(","))
    if not set(frames) <= set(FRAMES):
        parser().error(f"--frames: choose from {', '.join(FRAMES)}")
    settings = Settings(args.runs, args.warmup, frames, _ints(args.persons), _ints(args.decode_batches))
    budget = Budget(args.budget_s)
    report = {"schema": SCHEMA, "settings": {**vars(settings), "warp": TIMED_WARP, "color": COLOR,
                                              "blur_kernel": DARK_BLUR_KERNEL},
              "cuda": None, "checks": [], "timings": [], "skipped": []}
    if args.device in ("both", "gpu"):
        gpu_half(settings, budget, report)
    if args.device in ("both", "cpu"):
        cpu_half(settings, budget, report)
    write_text_atomically(Path(args.json), json.dumps(report, indent=1) + "\n")
    failed = [c["name"] for c in report["checks"] if c["passed"] is False]
    for name in failed:
        print(f"check failed: {name}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
