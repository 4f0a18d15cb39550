"""Detect + pose on the CPU: vitpose-trt's batched top-down pipeline vs the usual one pose call per person.

Both ways use the same files and the same preprocessing; only the calls differ:
- toolkit: `PersonDetector(image)`, then one `PoseEstimator(image, boxes)` call for all persons (their crops,
  with flip copies, in one inference);
- per-person (what easy_ViTPose and most demos do): the same detector, then one pose call per person.
Detector: a YOLO11n-sized random-weight network with Ultralytics' output layout at 640 (tests/detect/
detector_models.py, 6.3 GFLOPs). Pose models: ViTPose-S and -B, random weights, fp32 ONNX and the CPU int8
(`vitpose-export --precision int8 --target onnxruntime-cpu`), flip test on (the official COCO setting).
Frames: scikit-image's astronaut; poses run on 1/4/8 seeded synthetic person boxes (the random detector's own
boxes would change the person count), while the detector still runs on every frame.

The two ways alternate round by round (interleaved), in one process with 2 ONNX Runtime threads each.
Reproduce (repository root, venv active): python benchmarks/detector/bench_detector_pipeline.py

`--device cuda` runs both models on torch-cuda in fp16 instead (the same seeded modules, no ONNX files; CUDA
graphs, crops and decoding on the GPU), for PyTorch with CUDA where TensorRT is missing; results go to
results-cuda.json / .md.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1] / "tests" / "detect"))

POSE_MODELS = ("vitpose-s", "vitpose-b")
PRECISIONS = {"fp32": "tensorrt", "int8": "onnxruntime-cpu"}  # precision -> export target
PERSONS = (1, 4, 8)
WAYS = ("toolkit", "per-person")


def prepared_files(cache: Path) -> dict:
    """The detector ONNX and every pose ONNX, exported once into `cache` (the benchmark cache's rule)."""
    from detector_models import export_yolo_shaped

    from vitpose_trt.bench.artifacts import onnx_for
    from vitpose_trt.bench.sources import model_source

    cache.mkdir(parents=True, exist_ok=True)
    detector = cache / "yolo11n-shaped.onnx"
    if not detector.is_file():
        export_yolo_shaped(detector)
    poses = {(m, p): onnx_for(model_source(m), p, cache, target) for m in POSE_MODELS for p, target in PRECISIONS.items()}
    return {"detector": detector, "poses": poses}


class Way:
    """One way of running a frame, with its stage times (ms) per frame."""

    def __init__(self, name: str, detector, estimator, boxes: np.ndarray):
        self.name, self.detector, self.estimator, self.boxes = name, detector, estimator, boxes
        self.frames: list[float] = []
        self.stages: list[dict[str, float]] = []
        self._current: dict[str, float] = {}
        detector.on_stage = lambda stage, s: self._add(f"detect_{stage}", s)
        estimator.on_stage = lambda stage, s: self._add(f"pose_{stage}", s)

    def _add(self, stage: str, seconds: float) -> None:
        self._current[stage] = self._current.get(stage, 0.0) + seconds * 1000

    def frame(self, image: np.ndarray, timed: bool) -> None:
        self._current = {}
        start = time.perf_counter()
        self.detector(image)
        if self.name == "toolkit":
            self.estimator(image, self.boxes)
        else:
            for box in self.boxes:
                self.estimator(image, box[None])
        if timed:
            self.frames.append(time.perf_counter() - start)
            self.stages.append(self._current)


def cuda_models(model: str) -> dict:
    """The YOLO-shaped detector and the pose model `model` as torch-cuda fp16 backends (seeded weights)."""
    import torch
    from detector_models import YoloShaped

    from vitpose_trt.artifacts import ModelIO, TensorSpec
    from vitpose_trt.model import load_model
    from vitpose_trt.runtime.backends.torch_cuda import TorchCudaBackend

    torch.manual_seed(0)
    detector = YoloShaped().eval()
    with torch.no_grad():
        channels, anchors = detector(torch.zeros(1, 3, 640, 640)).shape[1:]
    io = ModelIO((TensorSpec("images", "float32", (-1, 3, 640, 640)),),
                 (TensorSpec("output0", "float32", (-1, channels, anchors)),))
    return {"detector": TorchCudaBackend(detector, io=io), "pose": TorchCudaBackend(load_model(name=model))}


def run_case(files: dict, model: str, precision: str, persons: int, args) -> dict:
    import vitpose_trt as vt
    from vitpose_trt.bench.pipeline import image_for_pipeline, person_boxes

    image, color, _ = image_for_pipeline(None)
    boxes = person_boxes(image.shape, persons)
    if args.device == "cuda":
        ways = {name: Way(name, vt.PersonDetector(files[model]["detector"], color=color),
                          vt.PoseEstimator(files[model]["pose"], color=color), boxes) for name in WAYS}
    else:
        onnx = files["poses"][(model, precision)]
        ways = {name: Way(name, vt.PersonDetector(files["detector"], color=color, threads=args.threads),
                          vt.PoseEstimator(onnx, color=color, threads=args.threads), boxes) for name in WAYS}
    for way in ways.values():
        way.frame(image, timed=False)  # warm-up
    for _ in range(args.rounds):
        for way in ways.values():
            for _ in range(args.frames):
                way.frame(image, timed=True)
    return {"model": model, "precision": precision, "persons": persons,
            "ways": {name: summary(way, persons) for name, way in ways.items()}}


def summary(way: Way, persons: int) -> dict:
    median = statistics.median(way.frames)
    stages = sorted({s for f in way.stages for s in f})
    return {"frames_per_s": 1 / median, "persons_per_s": persons / median, "frame_ms_median": median * 1000,
            "frame_ms": [round(f * 1000, 2) for f in way.frames],
            "stages_ms_median": {s: round(statistics.median(f.get(s, 0.0) for f in way.stages), 2) for s in stages}}


def markdown(results: list[dict], environment: dict, device: str) -> str:
    """The results table; on CUDA without stage columns (stage callbacks there time launches, not the GPU work)."""
    on_gpu = device == "cuda"
    where = (f"GPU: {', '.join(g['name'] for g in environment.get('gpus', [])) or 'CUDA'}, torch-cuda fp16"
             if on_gpu else f"CPU: {environment['cpu']}, {environment['threads']} threads")
    header = "| pose model | precision | persons | toolkit frames/s | per-person frames/s | speed-up |"
    header += "" if on_gpu else " detect ms | pose infer ms (toolkit / per-person) |"
    lines = [f"{where}; median frame over the rounds.", "", header, "|---" * header.count(" | ") + "|---|"]
    for r in results:
        t, p = r["ways"]["toolkit"], r["ways"]["per-person"]
        row = (f"| {r['model']} | {r['precision']} | {r['persons']} | {t['frames_per_s']:.2f} | "
               f"{p['frames_per_s']:.2f} | {t['frames_per_s'] / p['frames_per_s']:.2f}x |")
        if not on_gpu:
            row += (f" {t['stages_ms_median'].get('detect_infer', 0):.0f} | "
                    f"{t['stages_ms_median'].get('pose_infer', 0):.0f} / {p['stages_ms_median'].get('pose_infer', 0):.0f} |")
        lines.append(row)
    return "\n".join(lines) + "\n"


def main() -> None:
    from vitpose_trt.bench.environment import environment

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cache", default=str(Path.home() / ".cache/vitpose-trt/bench"))
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--frames", type=int, default=2, help="timed frames per way and round")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--models", default=",".join(POSE_MODELS))
    parser.add_argument("--persons", default=",".join(map(str, PERSONS)))
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu",
                        help="cpu: ONNX Runtime fp32 and CPU int8; cuda: torch-cuda fp16")
    parser.add_argument("--output-dir", default=str(HERE))
    args = parser.parse_args()
    models = args.models.split(",")
    if args.device == "cuda":
        files, precisions, suffix = {m: cuda_models(m) for m in models}, ("fp16",), "-cuda"
    else:
        files, precisions, suffix = prepared_files(Path(args.cache)), tuple(PRECISIONS), ""
    results = []
    for model in models:
        for precision in precisions:
            for persons in (int(p) for p in args.persons.split(",")):
                results.append(run_case(files, model, precision, persons, args))
                print(json.dumps({k: results[-1][k] for k in ("model", "precision", "persons")}), flush=True)
    env = {**environment(args.threads), "threads": args.threads}
    report = {"command": " ".join(sys.argv), "environment": env, "rounds": args.rounds, "frames": args.frames,
              "results": results}
    out = Path(args.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / f"results{suffix}.json").write_text(json.dumps(report, indent=1) + "\n")
    (out / f"results{suffix}.md").write_text(markdown(results, env, args.device))
    print(markdown(results, env, args.device))


if __name__ == "__main__":
    main()
