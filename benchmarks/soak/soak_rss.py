"""Soak run: `PoseEstimator` called for minutes on the CPU with varying persons and image sizes; RSS over time.

    python benchmarks/soak/soak_rss.py --seconds 180            # vitpose-tiny, random weights, ONNX Runtime
    python benchmarks/soak/soak_rss.py --onnx out/vitpose-b.onnx --seconds 600

Writes <results>.json (every sample: seconds, calls, persons so far, RSS MiB) and <results>.md (summary
and a sampled table), atomically. Memory is judged after a warm-up that has seen every image size and
the largest batch: the growth from there to the end, and the slope of a line fitted to the second half.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

import vitpose_trt as vt
from vitpose_trt.atomic_files import write_text_atomically
from vitpose_trt.bench.memory import current_rss_mib

#: (height, width) of the synthetic frames, cycled call by call.
IMAGE_SIZES = [(480, 640), (720, 1280), (240, 320), (1080, 1920), (100, 80), (333, 517)]
MAX_PERSONS = 8
WARMUP_CALLS = 100
DEFAULT_SECONDS = 180.0
DEFAULT_SAMPLE_SECONDS = 2.0
#: Rows of the Markdown table (the JSON keeps every sample).
TABLE_ROWS = 20
HERE = Path(__file__).resolve().parent



def tiny_onnx(folder: Path) -> Path:
    """vitpose-tiny (random weights) exported into `folder` by `vitpose-export` in a child process, so this
    process holds only what a deployment holds (no PyTorch)."""
    command = [sys.executable, "-m", "vitpose_trt.cli.export", "--model", "vitpose-tiny", "--precision", "fp32",
               "--builder", "none", "--output", str(folder)]
    subprocess.run(command, check=True, capture_output=True)
    return folder / "vitpose-tiny.onnx"


def calls(seed: int):
    """Endless (image, boxes): frames cycled, 0..MAX_PERSONS random boxes, some partly or wholly off the image."""
    rng = np.random.default_rng(seed)
    frames = [rng.integers(0, 256, (*size, 3), dtype=np.uint8) for size in IMAGE_SIZES]
    index = 0
    while True:
        image = frames[index % len(frames)]
        height, width = image.shape[:2]
        persons = MAX_PERSONS if index < len(frames) else int(rng.integers(0, MAX_PERSONS + 1))
        corner = rng.uniform(-100, [width, height], size=(persons, 2))
        yield image, np.concatenate([corner, corner + rng.uniform(2, 500, size=(persons, 2))], axis=1)
        index += 1


def soak(estimator, seconds: float, sample_seconds: float) -> list[dict]:
    """Run for `seconds` after the warm-up; one sample every `sample_seconds`."""
    workload = calls(seed=1)
    for _ in range(WARMUP_CALLS):
        estimator(*next(workload))
    samples, count, persons, start = [], 0, 0, time.perf_counter()
    next_sample = start
    while True:
        now = time.perf_counter()
        if now >= next_sample:
            samples.append({"seconds": round(now - start, 2), "calls": count, "persons": persons,
                            "rss_mib": round(current_rss_mib(), 2)})
            next_sample += sample_seconds
            if now - start >= seconds:
                return samples
        image, boxes = next(workload)
        poses = estimator(image, boxes)
        if len(poses) != len(boxes) or not np.isfinite(poses.keypoints).all():
            raise RuntimeError(f"call {count}: bad result for {len(boxes)} boxes on a {image.shape} image")
        count, persons = count + 1, persons + len(boxes)


def summary(samples: list[dict]) -> dict:
    """Totals and leak measures. RSS oscillates by a few MiB as malloc hands memory back and reuses it, so
    besides first-to-last growth: the rise of the peak (last quarter's max - first quarter's max) and the
    slope of a least-squares line over all samples."""
    rss = np.array([s["rss_mib"] for s in samples])
    calls_done = np.array([s["calls"] for s in samples], dtype=np.float64)
    quarter = max(1, len(samples) // 4)
    slope = np.polyfit(calls_done, rss, 1)[0] if len(samples) >= 2 and calls_done[-1] > 0 else 0.0
    return {"calls": int(calls_done[-1]), "persons": samples[-1]["persons"], "seconds": samples[-1]["seconds"],
            "rss_after_warmup_mib": float(rss[0]), "rss_final_mib": float(rss[-1]), "rss_max_mib": float(rss.max()),
            "rss_growth_mib": float(rss[-1] - rss[0]),
            "peak_rise_mib": float(rss[-quarter:].max() - rss[:quarter].max()),
            "slope_mib_per_1000_calls": float(slope * 1000)}


def markdown(report: dict) -> str:
    s, c = report["summary"], report["config"]
    lines = [
        "# Soak run: RSS over time", "",
        f"{c['model']} on {c['backend']} ({c['threads']} thread(s)), flip test {c['flip_test']}, "
        f"0-{MAX_PERSONS} persons per call, frames {', '.join(f'{w}x{h}' for h, w in IMAGE_SIZES)}; "
        f"{report['environment']['machine']}.", "",
        "| calls | persons | seconds | RSS after warm-up | final | max | peak rise (last - first quarter) | slope |",
        "|---|---|---|---|---|---|---|---|",
        f"| {s['calls']} | {s['persons']} | {s['seconds']:.0f} | {s['rss_after_warmup_mib']:.1f} MiB | "
        f"{s['rss_final_mib']:.1f} MiB | {s['rss_max_mib']:.1f} MiB | {s['peak_rise_mib']:+.2f} MiB | "
        f"{s['slope_mib_per_1000_calls']:+.3f} MiB / 1000 calls |", "",
        "RSS oscillates by a few MiB as malloc returns memory and takes it back; a leak shows as a rising peak "
        "and a positive slope.", "",
        "| seconds | calls | RSS MiB |", "|---|---|---|",
    ]
    step = max(1, len(report["samples"]) // TABLE_ROWS)
    rows = report["samples"][::step] + ([report["samples"][-1]] if (len(report["samples"]) - 1) % step else [])
    lines += [f"| {r['seconds']:.0f} | {r['calls']} | {r['rss_mib']:.1f} |" for r in rows]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--onnx", help="ONNX model (default: vitpose-tiny, random weights, exported now)")
    parser.add_argument("--seconds", type=float, default=DEFAULT_SECONDS)
    parser.add_argument("--sample-seconds", type=float, default=DEFAULT_SAMPLE_SECONDS)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--results", default=str(HERE / "results"), help="output stem (.json and .md)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        onnx = Path(args.onnx) if args.onnx else tiny_onnx(Path(tmp))
        estimator = vt.PoseEstimator(onnx, threads=args.threads)
        samples = soak(estimator, args.seconds, args.sample_seconds)
    import onnxruntime

    report = {
        "config": {"model": estimator.metadata.model, "onnx": str(args.onnx or "vitpose-tiny (random weights, vitpose-export fp32)"),
                   "backend": estimator.backend.name, "threads": args.threads, "flip_test": estimator.flip_test,
                   "max_persons": MAX_PERSONS, "image_sizes": IMAGE_SIZES, "warmup_calls": WARMUP_CALLS},
        "environment": {"python": sys.version.split()[0], "numpy": np.__version__,
                        "onnxruntime": onnxruntime.__version__, "machine": f"{platform.machine()} {platform.system()}, "
                        f"{len(os.sched_getaffinity(0))} usable cores"},
        "summary": summary(samples), "samples": samples,
    }
    write_text_atomically(Path(args.results + ".json"), json.dumps(report, indent=2) + "\n")
    write_text_atomically(Path(args.results + ".md"), markdown(report))
    print(markdown(report).split("\n\n| seconds")[0])


if __name__ == "__main__":
    main()
